package jwks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jwtgate/jwtgate/policies"
)

// Defaults of the Fetcher.
const (
	// DefaultRefresh is how often keys are fetched again (Istio's default
	// JWKS refresh interval is 20 minutes).
	DefaultRefresh = 20 * time.Minute
	// DefaultTimeout is the HTTP timeout of a rule without "timeout".
	DefaultTimeout = 5 * time.Second
	// DefaultMinBackoff and DefaultMaxBackoff bound the retry delay after a
	// failed fetch; it doubles from the minimum on every failure.
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 5 * time.Minute
	// MaxBodySize is the largest discovery document or JWKS accepted.
	MaxBodySize = 1 << 20
)

// Target is one place keys are fetched from.
type Target struct {
	// URL is the rule's jwksUri, or its OIDC discovery URL; it is the key of
	// translate.Options.JWKS (policies.JWTRule.KeysURL).
	URL string
	// Discovery means URL is an OIDC discovery document whose jwks_uri
	// names the JWKS (the rule had no jwksUri).
	Discovery bool
	// Timeout bounds each HTTP request.
	Timeout time.Duration
}

// Targets returns where the keys of every jwtRule without inline jwks come
// from, one Target per URL, sorted by URL. Rules sharing a URL share a
// Target: it uses discovery when any of them has no jwksUri (a jwksUri that
// names a discovery document could not be used as a JWKS anyway) and the
// longest of their timeouts (default DefaultTimeout).
func Targets(set *policies.Set) []Target {
	if set == nil {
		return nil
	}
	byURL := map[string]*Target{}
	for _, ra := range set.RequestAuthentications {
		for _, r := range ra.Spec.JWTRules {
			if r.Jwks != "" {
				continue
			}
			timeout := DefaultTimeout
			if d, err := time.ParseDuration(r.Timeout); err == nil && d > 0 {
				timeout = d
			}
			u := r.KeysURL()
			t, ok := byURL[u]
			if !ok {
				t = &Target{URL: u}
				byURL[u] = t
			}
			t.Discovery = t.Discovery || r.JwksURI == ""
			t.Timeout = max(t.Timeout, timeout)
		}
	}
	out := make([]Target, 0, len(byURL))
	for _, t := range byURL {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b Target) int { return strings.Compare(a.URL, b.URL) })
	return out
}

// Options configure a Fetcher; zero fields take the defaults.
type Options struct {
	Refresh    time.Duration // DefaultRefresh
	MinBackoff time.Duration // DefaultMinBackoff
	MaxBackoff time.Duration // DefaultMaxBackoff; a retry never waits longer than Refresh
	Logger     *slog.Logger  // slog.Default()
}

// Fetcher keeps the keys of a set of Targets: it fetches each one at once
// when it is first wanted, then every Refresh; after a failure it retries
// with exponential backoff and keeps serving the last good keys of that
// URL, if any (like Istio). A URL without good keys has no entry in Keys,
// so translate inlines the fail-closed JWKS and its tokens get 401.
//
// Requests go through an SSRF guard (see GuardError): only http and https,
// no proxy, and no connection to link-local, cloud metadata, unspecified,
// broadcast or multicast addresses, checked on every resolved address at
// dial time (so DNS rebinding cannot get around it). Loopback and private
// addresses are allowed. https uses the system roots.
//
// A Fetcher is safe for concurrent use. Close stops it.
type Fetcher struct {
	opts    Options
	log     *slog.Logger
	client  *http.Client
	changes chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	entries map[string]*entry // by Target.URL

	fetchOK, fetchError, fetchRefused atomic.Int64
}

// entry is the state of one wanted URL. Its fields are guarded by
// Fetcher.mu, except stop which only its worker reads.
type entry struct {
	target    Target
	keys      string   // last good normalised JWKS, "" if none
	kids      []string // of keys
	attempted bool     // the first fetch has completed (either way)
	stop      context.CancelFunc
}

// NewFetcher returns a Fetcher that wants nothing yet.
func NewFetcher(opts Options) *Fetcher {
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	opts.MaxBackoff = max(min(opts.MaxBackoff, opts.Refresh), opts.MinBackoff)
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Fetcher{
		opts:    opts,
		log:     log,
		client:  newClient(),
		changes: make(chan struct{}, 1),
		ctx:     ctx,
		cancel:  cancel,
		entries: map[string]*entry{},
	}
}

// newClient is the guarded HTTP client: no proxy (a proxy would resolve and
// connect on our behalf, past the guard), dial-time address checks, and
// redirects (at most 5) checked like the first URL, never from https to
// http.
func newClient() *http.Client {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: dialControl}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("stopped after 5 redirects")
			}
			if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect from https to %s refused", req.URL.Redacted())
			}
			return checkURL(req.URL)
		},
	}
}

// Want sets the Targets to keep keys for. A new URL is fetched at once in
// the background; a URL no longer wanted is dropped with its keys; a
// changed timeout applies from the next request, a changed Discovery
// starts the URL afresh.
func (f *Fetcher) Want(targets []Target) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ctx.Err() != nil {
		return
	}
	wanted := map[string]Target{}
	for _, t := range targets {
		wanted[t.URL] = t
	}
	for u, e := range f.entries {
		if t, ok := wanted[u]; ok && t.Discovery == e.target.Discovery {
			e.target = t
			continue
		}
		e.stop()
		delete(f.entries, u)
		f.log.Debug("jwks: uri no longer wanted", "uri", redact(u))
	}
	for _, t := range targets {
		if _, ok := f.entries[t.URL]; ok {
			continue
		}
		ctx, stop := context.WithCancel(f.ctx)
		e := &entry{target: t, stop: stop}
		f.entries[t.URL] = e
		f.log.Debug("jwks: fetching keys", "uri", redact(t.URL), "discovery", t.Discovery)
		f.wg.Add(1)
		go f.run(ctx, e)
	}
}

// Keys returns a snapshot: URL -> normalised JWKS, for every wanted URL
// that has good keys.
func (f *Fetcher) Keys() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]string, len(f.entries))
	for u, e := range f.entries {
		if e.keys != "" {
			out[u] = e.keys
		}
	}
	return out
}

// Settled reports whether the first fetch of every wanted URL has
// completed, successfully or not.
func (f *Fetcher) Settled() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.entries {
		if !e.attempted {
			return false
		}
	}
	return true
}

// Changes receives a value after Keys changed because of a fetch (several
// changes may be coalesced into one). It is never closed.
func (f *Fetcher) Changes() <-chan struct{} { return f.changes }

// Close stops every fetch and waits for them.
func (f *Fetcher) Close() {
	f.cancel()
	f.wg.Wait()
	f.client.CloseIdleConnections()
}

// FetchCounts returns the number of fetches that succeeded, failed, and
// were refused by the SSRF guard.
func (f *Fetcher) FetchCounts() (ok, failed, refused int64) {
	return f.fetchOK.Load(), f.fetchError.Load(), f.fetchRefused.Load()
}

// WriteMetrics writes jwtgate_jwks_fetch_total{result} and
// jwtgate_jwks_uris (wanted URLs, and how many have good keys) in
// Prometheus text format.
func (f *Fetcher) WriteMetrics(w io.Writer) error {
	ok, failed, refused := f.FetchCounts()
	f.mu.Lock()
	wanted, good := len(f.entries), 0
	for _, e := range f.entries {
		if e.keys != "" {
			good++
		}
	}
	f.mu.Unlock()
	_, err := fmt.Fprintf(w, `# HELP jwtgate_jwks_fetch_total JWKS and OIDC discovery fetches by result (refused = SSRF guard).
# TYPE jwtgate_jwks_fetch_total counter
jwtgate_jwks_fetch_total{result="error"} %d
jwtgate_jwks_fetch_total{result="ok"} %d
jwtgate_jwks_fetch_total{result="refused"} %d
# HELP jwtgate_jwks_uris Key URLs wanted (state="wanted") and those with good keys (state="keys"); the others fail closed.
# TYPE jwtgate_jwks_uris gauge
jwtgate_jwks_uris{state="keys"} %d
jwtgate_jwks_uris{state="wanted"} %d
`, failed, ok, refused, good, wanted)
	return err
}

// run fetches e until ctx ends: at once, then every Refresh, or after a
// failure with backoff.
func (f *Fetcher) run(ctx context.Context, e *entry) {
	defer f.wg.Done()
	failures := 0
	for {
		f.mu.Lock()
		t := e.target
		f.mu.Unlock()
		keys, kids, err := f.fetch(ctx, t)
		if ctx.Err() != nil {
			return
		}
		wait := f.opts.Refresh
		if err != nil {
			wait = f.backoff(failures)
			failures++
		} else {
			failures = 0
		}
		f.record(e, t, keys, kids, err, wait)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// backoff is the wait after the failures-th consecutive failure (from 0):
// MinBackoff doubled each time with ±20% jitter, at most MaxBackoff.
func (f *Fetcher) backoff(failures int) time.Duration {
	d := f.opts.MinBackoff
	for i := 0; i < failures && d < f.opts.MaxBackoff; i++ {
		d *= 2
	}
	jitter := 0.8 + 0.4*rand.Float64()
	return min(time.Duration(float64(d)*jitter), f.opts.MaxBackoff)
}

// record stores the outcome of one fetch of e, logs it, counts it and
// signals a change of keys.
func (f *Fetcher) record(e *entry, t Target, keys string, kids []string, err error, wait time.Duration) {
	var guard *GuardError
	switch {
	case err == nil:
		f.fetchOK.Add(1)
	case errors.As(err, &guard):
		f.fetchRefused.Add(1)
	default:
		f.fetchError.Add(1)
	}
	f.mu.Lock()
	if f.entries[t.URL] != e { // dropped meanwhile
		f.mu.Unlock()
		return
	}
	e.attempted = true
	changed := err == nil && keys != e.keys
	cached := e.keys != ""
	oldKids := e.kids
	if changed {
		e.keys, e.kids = keys, kids
	}
	f.mu.Unlock()

	uri := redact(t.URL)
	switch {
	case err != nil && cached:
		f.log.Warn("jwks fetch failed; keeping the last good keys", "uri", uri, "error", err,
			"retry_in", wait.Round(time.Millisecond).String(), "kids", oldKids)
	case err != nil:
		f.log.Error("jwks fetch failed; tokens of this issuer are rejected (fail closed)", "uri", uri, "error", err,
			"retry_in", wait.Round(time.Millisecond).String())
	case changed:
		f.log.Info("jwks keys changed", "uri", uri, "kids", kids, "previous_kids", oldKids)
		select {
		case f.changes <- struct{}{}:
		default:
		}
	default:
		f.log.Debug("jwks keys unchanged", "uri", uri, "kids", kids)
	}
}

// fetch gets and normalises the keys of t, through OIDC discovery when
// t.Discovery.
func (f *Fetcher) fetch(ctx context.Context, t Target) (string, []string, error) {
	jwksURL := t.URL
	if t.Discovery {
		body, err := f.get(ctx, t.URL, t.Timeout)
		if err != nil {
			return "", nil, fmt.Errorf("OIDC discovery: %w", err)
		}
		if jwksURL, err = discoveredJWKSURI(t.URL, body); err != nil {
			return "", nil, fmt.Errorf("OIDC discovery %s: %w", redact(t.URL), err)
		}
	}
	body, err := f.get(ctx, jwksURL, t.Timeout)
	if err != nil {
		return "", nil, err
	}
	keys, kids, err := Normalize(body)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", redact(jwksURL), err)
	}
	return keys, kids, nil
}

// discoveredJWKSURI reads jwks_uri from an OIDC discovery document. It
// must be an absolute http(s) URL, https when the document came over
// https.
func discoveredJWKSURI(from string, body []byte) (string, error) {
	var doc struct {
		JWKSURI *string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("not a JSON discovery document: %v", err)
	}
	if doc.JWKSURI == nil || *doc.JWKSURI == "" {
		return "", errors.New(`no "jwks_uri" in the discovery document`)
	}
	u, err := url.Parse(*doc.JWKSURI)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "", fmt.Errorf("jwks_uri %q is not an absolute URL", *doc.JWKSURI)
	}
	if strings.HasPrefix(from, "https:") && u.Scheme != "https" {
		return "", fmt.Errorf("jwks_uri %s is not https although the discovery document is", u.Redacted())
	}
	return u.String(), nil
}

// get fetches rawURL with the guarded client: status 200 and at most
// MaxBodySize bytes, within timeout.
func (f *Fetcher) get(ctx context.Context, rawURL string, timeout time.Duration) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("invalid URL %q: %v", rawURL, err)
	}
	if err := checkURL(u); err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "jwtgate")
	resp, err := f.client.Do(req)
	if err != nil {
		var guard *GuardError
		if errors.As(err, &guard) {
			return nil, fmt.Errorf("GET %s: %w", u.Redacted(), guard)
		}
		return nil, fmt.Errorf("GET %s: %w", u.Redacted(), unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %s", u.Redacted(), resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodySize+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading body: %w", u.Redacted(), err)
	}
	if len(body) > MaxBodySize {
		return nil, fmt.Errorf("GET %s: body larger than %d bytes", u.Redacted(), MaxBodySize)
	}
	return body, nil
}

// unwrapURLError drops the *url.Error wrapper (it repeats method and URL).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redact hides a password in a URL for logs.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return raw
}
