package jwks

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/policies"
)

// jwkJSON is the JWK of pub as produced by FromPublicKey.
func jwkJSON(t *testing.T, pub any) string {
	t.Helper()
	k, err := FromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(k)
	return string(b)
}

func TestNormalize(t *testing.T) {
	rsaKey := must(rsa.GenerateKey(rand.Reader, 2048))
	ecKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	rsaJWK := jwkJSON(t, &rsaKey.PublicKey) // kid = thumbprint
	ecJWK := jwkJSON(t, &ecKey.PublicKey)
	rsaK, _ := FromPublicKey(&rsaKey.PublicKey)
	ecK, _ := FromPublicKey(&ecKey.PublicKey)
	edJWK := fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","x":%q,"kid":"ed","alg":"EdDSA"}`, b64.EncodeToString(edPub))
	// The same RSA key with members in another order, whitespace and an x5t.
	rsaShuffled := fmt.Sprintf(`{ "e": %q, "n": %q, "kid": %q, "alg": "RS256", "use": "sig", "kty": "RSA", "key_ops": ["verify"] }`,
		rsaK.E, rsaK.N, rsaK.Kid)

	canonRSA := fmt.Sprintf(`{"use":"sig","kty":"RSA","kid":%q,"alg":"RS256","n":%q,"e":%q}`, rsaK.Kid, rsaK.N, rsaK.E)
	canonEC := fmt.Sprintf(`{"use":"sig","kty":"EC","kid":%q,"crv":"P-256","alg":"ES256","x":%q,"y":%q}`, ecK.Kid, ecK.X, ecK.Y)
	canonEd := fmt.Sprintf(`{"kty":"OKP","kid":"ed","crv":"Ed25519","alg":"EdDSA","x":%q}`, b64.EncodeToString(edPub))
	sortedRSAEC := []string{canonRSA, canonEC}
	kidsRSAEC := []string{rsaK.Kid, ecK.Kid}
	if ecK.Kid < rsaK.Kid {
		sortedRSAEC = []string{canonEC, canonRSA}
		kidsRSAEC = []string{ecK.Kid, rsaK.Kid}
	}
	set := func(keys ...string) string { return `{"keys":[` + strings.Join(keys, ",") + `]}` }

	cases := []struct {
		name, in string
		want     string   // normalised output, "" when an error is expected
		kids     []string // when want is set
		errHas   string   // when want is ""
	}{
		{"one RSA key", set(rsaJWK), set(canonRSA), []string{rsaK.Kid}, ""},
		{"member order, whitespace, unknown members", set(rsaShuffled), set(canonRSA), []string{rsaK.Kid}, ""},
		{"keys sorted by kid", set(ecJWK, rsaJWK), set(sortedRSAEC...), kidsRSAEC, ""},
		{"same keys, other order", set(rsaJWK, ecJWK), set(sortedRSAEC...), kidsRSAEC, ""},
		{"duplicate key once", set(rsaJWK, rsaShuffled), set(canonRSA), []string{rsaK.Kid}, ""},
		{"Ed25519", set(edJWK), set(canonEd), []string{"ed"}, ""},
		{"unusable keys dropped, good kept", set(`{"kty":"oct","k":"c2VjcmV0"}`, rsaJWK,
			`{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}`, `{"kty":"XYZ"}`), set(canonRSA), []string{rsaK.Kid}, ""},
		{"not JSON", `{"keys":`, "", nil, "not a JSON Web Key Set"},
		{"no keys member", `{"jwks_uri":"https://x"}`, "", nil, `no "keys"`},
		{"empty keys", `{"keys":[]}`, "", nil, "no usable signing public key among 0"},
		{"symmetric only", set(`{"kty":"oct","k":"c2VjcmV0"}`), "", nil, `symmetric key`},
		{"private key", set(`{"kty":"EC","crv":"P-256","x":"` + ecK.X + `","y":"` + ecK.Y + `","d":"AQAB"}`), "", nil, `private key member "d"`},
		{"encryption key", set(strings.Replace(rsaJWK, `"use":"sig"`, `"use":"enc"`, 1)), "", nil, `use "enc"`},
		{"encryption alg", set(strings.Replace(rsaJWK, `"alg":"RS256"`, `"alg":"RSA-OAEP"`, 1)), "", nil, `alg "RSA-OAEP"`},
		{"empty RSA modulus", set(`{"kty":"RSA","n":"","e":"AQAB"}`), "", nil, "key 0: RSA modulus of 0 bits"},
		{"short RSA modulus", set(`{"kty":"RSA","n":"` + b64.EncodeToString(append([]byte{0xc1}, bytes.Repeat([]byte{0x35}, 63)...)) + `","e":"AQAB"}`),
			"", nil, "RSA modulus of 512 bits"},
		{"EC point off the curve", set(`{"kty":"EC","crv":"P-256","x":"` + ecK.X + `","y":"` + ecK.X + `"}`), "", nil, "key 0"},
		{"keys not a list", `{"keys":{"kty":"RSA"}}`, "", nil, "not a JSON Web Key Set"},
	}
	for _, tc := range cases {
		got, kids, err := Normalize([]byte(tc.in))
		if tc.want == "" {
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("%s: error %v, want one containing %q (output %s)", tc.name, err, tc.errHas, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
		if !reflect.DeepEqual(kids, tc.kids) {
			t.Errorf("%s: kids %v, want %v", tc.name, kids, tc.kids)
		}
		// The output is a fixed point and verifies like the input.
		again, _, err := Normalize([]byte(got))
		if err != nil || again != got {
			t.Errorf("%s: normalising twice changed the output: %v\n%s\n%s", tc.name, err, got, again)
		}
	}

	// A token signed with the key verifies against the normalised set.
	tok := must(Sign(rsaKey, TokenOptions{Issuer: "i"}))
	norm, _, _ := Normalize([]byte(set(rsaShuffled)))
	if _, err := Verify(tok, []byte(norm)); err != nil {
		t.Errorf("token does not verify against the normalised JWKS: %v", err)
	}
}

func TestTargets(t *testing.T) {
	ra := func(rules ...policies.JWTRule) *policies.RequestAuthentication {
		return &policies.RequestAuthentication{Spec: policies.RequestAuthenticationSpec{JWTRules: rules}}
	}
	set := &policies.Set{RequestAuthentications: []*policies.RequestAuthentication{
		ra(policies.JWTRule{Issuer: "inline", Jwks: `{"keys":[]}`},
			policies.JWTRule{Issuer: "https://idp.example.com/", Timeout: "2s"}, // discovery, trailing slash
			policies.JWTRule{Issuer: "a", JwksURI: "https://keys.example.com/a.json", Timeout: "1s"}),
		ra(policies.JWTRule{Issuer: "a2", JwksURI: "https://keys.example.com/a.json", Timeout: "7s"},
			policies.JWTRule{Issuer: "b", JwksURI: "http://10.0.0.1/b.json"},
			// An explicit jwksUri naming the discovery URL of an issuer
			// that another rule discovers: discovery wins.
			policies.JWTRule{Issuer: "x", JwksURI: "https://idp.example.com/.well-known/openid-configuration"}),
	}}
	want := []Target{
		{URL: "http://10.0.0.1/b.json", Timeout: DefaultTimeout},
		{URL: "https://idp.example.com/.well-known/openid-configuration", Discovery: true, Timeout: DefaultTimeout},
		{URL: "https://keys.example.com/a.json", Timeout: 7 * time.Second},
	}
	if got := Targets(set); !reflect.DeepEqual(got, want) {
		t.Errorf("Targets:\n got %+v\nwant %+v", got, want)
	}
	if got := Targets(nil); len(got) != 0 {
		t.Errorf("Targets(nil) = %v", got)
	}
}

func TestBlockedAddr(t *testing.T) {
	cases := map[string]bool{ // address -> refused
		"169.254.169.254":          true,
		"169.254.1.2":              true,
		"fe80::1":                  true,
		"fe80::1%eth0":             true,
		"fd00:ec2::254":            true,
		"100.100.100.200":          true,
		"::ffff:169.254.169.254":   true,
		"64:ff9b::a9fe:a9fe":       true, // NAT64 of 169.254.169.254
		"0.0.0.0":                  true,
		"0.1.2.3":                  true,
		"::":                       true,
		"224.0.0.1":                true,
		"ff02::1":                  true,
		"255.255.255.255":          true,
		"127.0.0.1":                false,
		"::1":                      false,
		"10.1.2.3":                 false,
		"172.16.0.1":               false,
		"192.168.1.1":              false,
		"fd00::1":                  false,
		"100.64.0.1":               false,
		"93.184.216.34":            false,
		"2606:2800:220:1::248":     false,
		"::ffff:127.0.0.1":         false,
		"64:ff9b::5db8:d822":       false, // NAT64 of a public address
		"fd00:ec2::253":            false,
		"169.253.255.255":          false,
		"169.255.0.0":              false,
		"::ffff:0.0.0.0":           true,
		"64:ff9b::ffff:ffff":       true,
		"fe80::a9fe:a9fe":          true,
		"2001:db8::a9fe:a9fe":      false,
		"::169.254.169.254":        false, // deprecated IPv4-compatible: not routed to v4
		"64:ff9b:1::a9fe:a9fe":     false, // local-use NAT64 prefix: not decoded
		"fec0::1":                  false, // deprecated site-local, unicast
		"ff0e::1":                  true,
		"239.255.255.250":          true,
		"198.51.100.1":             false,
		"100.100.100.201":          false,
		"fd00:ec2::254%en0":        true,
		"::ffff:100.100.100.200":   true,
		"64:ff9b::6464:64c8":       true, // NAT64 of 100.100.100.200
		"64:ff9b::7f00:1":          false,
		"64:ff9b::e000:1":          true,
		"64:ff9b::":                true, // NAT64 of 0.0.0.0
		"::ffff:255.255.255.255":   true,
		"::ffff:224.0.0.251":       true,
		"::ffff:192.168.0.1":       false,
		"::ffff:169.254.0.1":       true,
		"fe80::":                   true,
		"febf:ffff::1":             true,
		"fec0::":                   false,
		"ff00::":                   true,
		"fd00:ec2::":               false,
		"fd00:ec2:0:0:0:0:0:254":   true,
		"FD00:EC2::254":            true,
		"0:0:0:0:0:ffff:a9fe:a9fe": true,
	}
	for s, refused := range cases {
		a := netip.MustParseAddr(s)
		if why := blockedAddr(a); (why != "") != refused {
			t.Errorf("%s: blockedAddr = %q, want refused=%v", s, why, refused)
		}
	}
}

func TestCheckURL(t *testing.T) {
	cases := map[string]string{ // URL -> part of the refusal, "" = allowed
		"https://idp.example.com/keys":            "",
		"http://127.0.0.1:8080/keys":              "",
		"http://[::1]/keys":                       "",
		"http://10.0.0.1/keys":                    "",
		"http://169.254.169.254/latest/meta-data": "cloud metadata address",
		"http://[fd00:ec2::254]/":                 "cloud metadata address",
		"http://metadata.google.internal/":        "cloud metadata host name",
		"http://METADATA.google.internal./":       "cloud metadata host name",
		"http://169.254.10.1/":                    "link-local",
		"http://[fe80::1%25eth0]/":                "link-local",
		"http://0.0.0.0:80/":                      "unspecified",
		"http://224.0.0.1/":                       "multicast",
		"ftp://idp.example.com/keys":              `scheme "ftp"`,
		"file:///etc/passwd":                      `scheme "file"`,
		"http:///nohost":                          "without host",
	}
	for raw, want := range cases {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		err = checkURL(u)
		var g *GuardError
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: refused: %v", raw, err)
		case want != "" && (!errors.As(err, &g) || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: error %v, want a GuardError containing %q", raw, err, want)
		}
	}
}

// TestClientDialGuard checks the dial-time hook on its own (the URL check
// is bypassed): the guarded client refuses link-local and metadata
// addresses after resolution and before connecting, and still connects to
// loopback.
func TestClientDialGuard(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	c := newClient()
	defer c.CloseIdleConnections()
	for _, u := range []string{"http://169.254.169.254/", "http://[::ffff:169.254.169.254]/", "http://[fe80::1]:81/", "http://0.0.0.0:" + srv.URL[strings.LastIndex(srv.URL, ":")+1:] + "/"} {
		start := time.Now()
		_, err := c.Get(u)
		var g *GuardError
		if !errors.As(err, &g) {
			t.Errorf("%s: error %v, want a GuardError", u, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: took %s: a refusal must not wait for a connection", u, d)
		}
	}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatalf("loopback refused: %v", err)
	}
	resp.Body.Close()
}

// idp is an in-process identity provider whose answers the test changes.
type idp struct {
	mu       sync.Mutex
	jwks     string // served at /keys
	status   int    // for /keys; 0 = 200
	delay    time.Duration
	requests map[string]int
	srv      *httptest.Server
}

func newIDP(t *testing.T) *idp {
	p := &idp{requests: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests[r.URL.Path]++
		jwks, status, delay := p.jwks, p.status, p.delay
		p.mu.Unlock()
		time.Sleep(delay)
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, p.srv.URL, p.srv.URL+"/keys")
		case "/keys":
			if status != 0 {
				w.WriteHeader(status)
			}
			io.WriteString(w, jwks)
		case "/big":
			w.Write(bytes.Repeat([]byte(" "), MaxBodySize+1))
		case "/to-metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) set(jwks string, status int) {
	p.mu.Lock()
	p.jwks, p.status = jwks, status
	p.mu.Unlock()
}

func (p *idp) setDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

func (p *idp) count(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests[path]
}

// rsaJWKS returns a new RSA key's JWKS in canonical form, and a token.
func rsaJWKS(t *testing.T) (jwks, token string) {
	t.Helper()
	k := must(rsa.GenerateKey(rand.Reader, 2048))
	raw := `{"keys":[` + jwkJSON(t, &k.PublicKey) + `]}`
	norm, _, err := Normalize([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return norm, must(Sign(k, TokenOptions{Issuer: "i"}))
}

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTestFetcher(t *testing.T, refresh time.Duration) (*Fetcher, *logBuffer) {
	logs := &logBuffer{}
	f := NewFetcher(Options{Refresh: refresh, MinBackoff: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	t.Cleanup(f.Close)
	return f, logs
}

// eventually polls cond for up to 5s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// changed waits for a change signal.
func changed(t *testing.T, f *Fetcher) {
	t.Helper()
	select {
	case <-f.Changes():
	case <-time.After(5 * time.Second):
		t.Fatal("no change signalled")
	}
}

func TestFetcherRotationAndKeepLastGood(t *testing.T) {
	p := newIDP(t)
	jwks1, tok1 := rsaJWKS(t)
	jwks2, tok2 := rsaJWKS(t)
	p.set(jwks1, 0)
	f, logs := newTestFetcher(t, 50*time.Millisecond)
	uri := p.srv.URL + "/keys"
	f.Want([]Target{{URL: uri, Timeout: time.Second}})
	changed(t, f)
	if got := f.Keys(); got[uri] != jwks1 || len(got) != 1 || !f.Settled() {
		t.Fatalf("keys %v settled %v", got, f.Settled())
	}
	if _, err := Verify(tok1, []byte(f.Keys()[uri])); err != nil {
		t.Fatal(err)
	}

	// Rotation: the next refresh picks up the new key.
	p.set(jwks2, 0)
	changed(t, f)
	keys := f.Keys()[uri]
	if keys != jwks2 {
		t.Fatalf("after rotation: %s", keys)
	}
	if _, err := Verify(tok2, []byte(keys)); err != nil {
		t.Errorf("new token: %v", err)
	}
	if _, err := Verify(tok1, []byte(keys)); err == nil {
		t.Error("old token still verifies")
	}
	if !strings.Contains(logs.String(), "jwks keys changed") {
		t.Errorf("no change logged:\n%s", logs)
	}

	// Failures keep the last good keys and are logged with URI and reason.
	_, failedBefore, _ := f.FetchCounts()
	p.set("oops", http.StatusInternalServerError)
	eventually(t, "two failed fetches", func() bool { _, n, _ := f.FetchCounts(); return n >= failedBefore+2 })
	if f.Keys()[uri] != jwks2 {
		t.Error("failure dropped the last good keys")
	}
	if l := logs.String(); !strings.Contains(l, "keeping the last good keys") || !strings.Contains(l, "500 Internal Server Error") ||
		!strings.Contains(l, uri) {
		t.Errorf("failure not logged with uri and reason:\n%s", l)
	}
	select {
	case <-f.Changes():
		t.Error("a failed fetch signalled a change")
	default:
	}

	// Identical keys after recovery signal nothing.
	p.set(jwks2, 0)
	okBefore, _, _ := f.FetchCounts()
	eventually(t, "a good fetch", func() bool { n, _, _ := f.FetchCounts(); return n > okBefore+1 })
	select {
	case <-f.Changes():
		t.Error("unchanged keys signalled a change")
	default:
	}

	var m strings.Builder
	f.WriteMetrics(&m)
	for _, want := range []string{`jwtgate_jwks_fetch_total{result="ok"} `, `jwtgate_jwks_fetch_total{result="refused"} 0`,
		`jwtgate_jwks_uris{state="keys"} 1`, `jwtgate_jwks_uris{state="wanted"} 1`} {
		if !strings.Contains(m.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, m.String())
		}
	}
	if strings.Contains(m.String(), `jwtgate_jwks_fetch_total{result="error"} 0`) {
		t.Errorf("errors not counted:\n%s", m.String())
	}

	// A URL no longer wanted is dropped with its keys.
	f.Want(nil)
	if len(f.Keys()) != 0 || !f.Settled() {
		t.Errorf("after Want(nil): keys %v", f.Keys())
	}
}

func TestFetcherFailClosedThenRecovers(t *testing.T) {
	p := newIDP(t)
	p.set("", http.StatusServiceUnavailable)
	f, logs := newTestFetcher(t, time.Hour) // recovery must come from the backoff, not the refresh
	uri := p.srv.URL + "/keys"
	f.Want([]Target{{URL: uri, Timeout: time.Second}})
	eventually(t, "first attempt", f.Settled)
	if len(f.Keys()) != 0 {
		t.Fatalf("keys after a failure: %v", f.Keys())
	}
	if !strings.Contains(logs.String(), "fail closed") {
		t.Errorf("fail-closed failure not logged:\n%s", logs)
	}
	jwks, _ := rsaJWKS(t)
	p.set(jwks, 0)
	changed(t, f)
	if f.Keys()[uri] != jwks {
		t.Fatalf("keys %v", f.Keys())
	}
}

func TestFetcherSettledWaitsForFirstAttempt(t *testing.T) {
	p := newIDP(t)
	jwks, _ := rsaJWKS(t)
	p.set(jwks, 0)
	p.setDelay(300 * time.Millisecond)
	f, _ := newTestFetcher(t, time.Hour)
	if !f.Settled() {
		t.Error("nothing wanted: not settled")
	}
	f.Want([]Target{{URL: p.srv.URL + "/keys", Timeout: 5 * time.Second}})
	if f.Settled() {
		t.Error("settled before the first fetch completed")
	}
	changed(t, f)
	if !f.Settled() {
		t.Error("not settled after the first fetch")
	}
}

func TestFetcherDiscovery(t *testing.T) {
	p := newIDP(t)
	jwks, tok := rsaJWKS(t)
	p.set(jwks, 0)
	f, _ := newTestFetcher(t, time.Hour)
	disc := p.srv.URL + "/.well-known/openid-configuration"
	f.Want([]Target{{URL: disc, Discovery: true, Timeout: time.Second}})
	changed(t, f)
	if _, err := Verify(tok, []byte(f.Keys()[disc])); err != nil {
		t.Fatalf("discovered keys: %v (%v)", err, f.Keys())
	}
	if d, k := p.count("/.well-known/openid-configuration"), p.count("/keys"); d != 1 || k != 1 {
		t.Errorf("requests: discovery %d, keys %d; want 1 each", d, k)
	}

	// The same URL as a plain jwksUri is not a JWKS.
	f2, logs := newTestFetcher(t, time.Hour)
	f2.Want([]Target{{URL: disc, Timeout: time.Second}})
	eventually(t, "attempt", f2.Settled)
	if len(f2.Keys()) != 0 || !strings.Contains(logs.String(), `no \"keys\"`) {
		t.Errorf("discovery document taken as JWKS: %v\n%s", f2.Keys(), logs)
	}
}

func TestDiscoveredJWKSURI(t *testing.T) {
	cases := []struct{ from, body, want, errHas string }{
		{"https://idp/.well-known/openid-configuration", `{"jwks_uri":"https://idp/keys"}`, "https://idp/keys", ""},
		{"http://idp/.well-known/openid-configuration", `{"jwks_uri":"http://idp/keys"}`, "http://idp/keys", ""},
		{"https://idp/x", `{"jwks_uri":"http://idp/keys"}`, "", "not https"},
		{"https://idp/x", `{"issuer":"https://idp"}`, "", `no "jwks_uri"`},
		{"https://idp/x", `{"jwks_uri":"/keys"}`, "", "not an absolute URL"},
		{"https://idp/x", `<html>`, "", "not a JSON discovery document"},
	}
	for _, tc := range cases {
		got, err := discoveredJWKSURI(tc.from, []byte(tc.body))
		if tc.errHas == "" && (err != nil || got != tc.want) {
			t.Errorf("%s: %q, %v", tc.body, got, err)
		}
		if tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)) {
			t.Errorf("%s: error %v, want %q", tc.body, err, tc.errHas)
		}
	}
}

func TestFetcherFailures(t *testing.T) {
	p := newIDP(t)
	p.set(`{"keys":[]}`, 0)
	cases := []struct {
		path    string
		timeout time.Duration
		errHas  string
		refused bool
	}{
		{"/keys", time.Second, "no usable signing public key", false},
		{"/missing", time.Second, "404 Not Found", false},
		{"/big", time.Second, "body larger than 1048576 bytes", false},
		{"/to-metadata", 30 * time.Second, "169.254.169.254 is a cloud metadata address", true},
	}
	for _, tc := range cases {
		f, logs := newTestFetcher(t, time.Hour)
		start := time.Now()
		f.Want([]Target{{URL: p.srv.URL + tc.path, Timeout: tc.timeout}})
		eventually(t, tc.path, f.Settled)
		if len(f.Keys()) != 0 {
			t.Errorf("%s: keys %v", tc.path, f.Keys())
		}
		if !strings.Contains(logs.String(), tc.errHas) {
			t.Errorf("%s: log lacks %q:\n%s", tc.path, tc.errHas, logs)
		}
		if _, _, refused := f.FetchCounts(); (refused > 0) != tc.refused {
			t.Errorf("%s: refused count %d", tc.path, refused)
		}
		if time.Since(start) > 3*time.Second {
			t.Errorf("%s: took %s", tc.path, time.Since(start))
		}
		f.Close()
	}

	// The rule's timeout bounds the request.
	p.setDelay(2 * time.Second)
	f, logs := newTestFetcher(t, time.Hour)
	start := time.Now()
	f.Want([]Target{{URL: p.srv.URL + "/keys", Timeout: 100 * time.Millisecond}})
	eventually(t, "timeout", f.Settled)
	if d := time.Since(start); d > time.Second {
		t.Errorf("timeout 100ms took %s", d)
	}
	if !strings.Contains(logs.String(), "deadline exceeded") {
		t.Errorf("timeout not logged:\n%s", logs)
	}
}

func TestFetcherRefusesMetadataWithoutConnecting(t *testing.T) {
	f, logs := newTestFetcher(t, time.Hour)
	start := time.Now()
	f.Want([]Target{
		{URL: "http://169.254.169.254/latest/meta-data/jwks", Timeout: 30 * time.Second},
		{URL: "http://metadata.google.internal/computeMetadata/v1/", Timeout: 30 * time.Second},
		{URL: "http://[fe80::1]/.well-known/openid-configuration", Discovery: true, Timeout: 30 * time.Second},
	})
	eventually(t, "refusals", f.Settled)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusal took %s: it must not try to connect", d)
	}
	if ok, failed, refused := f.FetchCounts(); ok != 0 || failed != 0 || refused != 3 {
		t.Errorf("counts ok=%d failed=%d refused=%d", ok, failed, refused)
	}
	for _, want := range []string{"169.254.169.254 is a cloud metadata address", "metadata.google.internal is a cloud metadata host name",
		"fe80::1 is a link-local address", "refused by the SSRF guard"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestBackoff(t *testing.T) {
	f := NewFetcher(Options{Refresh: time.Hour})
	defer f.Close()
	for i, base := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		if d := f.backoff(i); d < base*8/10 || d > base*12/10 {
			t.Errorf("backoff(%d) = %s, want %s ±20%%", i, d, base)
		}
	}
	for i := 0; i < 20; i++ {
		if d := f.backoff(40); d < 4*time.Minute || d > 5*time.Minute {
			t.Errorf("backoff(40) = %s, want 4m..5m", d)
		}
	}
	// A retry never waits longer than a refresh.
	g := NewFetcher(Options{Refresh: 3 * time.Second})
	defer g.Close()
	for i := 0; i < 20; i++ {
		if d := g.backoff(10); d > 3*time.Second || d < 2400*time.Millisecond {
			t.Errorf("backoff with refresh 3s = %s", d)
		}
	}
}

func TestWantChangesTimeoutAndMode(t *testing.T) {
	p := newIDP(t)
	jwks, _ := rsaJWKS(t)
	p.set(jwks, 0)
	f, _ := newTestFetcher(t, time.Hour)
	disc := p.srv.URL + "/.well-known/openid-configuration"
	f.Want([]Target{{URL: disc, Timeout: time.Second}}) // not a JWKS: fails
	eventually(t, "first attempt", f.Settled)
	if len(f.Keys()) != 0 {
		t.Fatal("discovery document accepted as JWKS")
	}
	f.Want([]Target{{URL: disc, Discovery: true, Timeout: 2 * time.Second}}) // same URL, now discovery
	changed(t, f)
	if f.Keys()[disc] != jwks {
		t.Errorf("keys %v", f.Keys())
	}
	f.Want([]Target{{URL: disc, Discovery: true, Timeout: 3 * time.Second}})
	f.mu.Lock()
	got := f.entries[disc].target.Timeout
	f.mu.Unlock()
	if got != 3*time.Second || f.Keys()[disc] != jwks {
		t.Errorf("timeout change: %s, keys %v", got, f.Keys())
	}
	f.Close()
	f.Want([]Target{{URL: "http://127.0.0.1:1/x"}}) // after Close: ignored
	if len(f.Keys()) != 1 {
		t.Errorf("Want after Close changed keys: %v", f.Keys())
	}
}
