package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/jwks"
	"github.com/jwtgate/jwtgate/policies"
	"github.com/jwtgate/jwtgate/translate"
)

// fakeKeys is a keySource the test drives.
type fakeKeys struct {
	mu      sync.Mutex
	wants   [][]string // URLs of every Want call
	keys    map[string]string
	changes chan struct{}
}

func (f *fakeKeys) Want(ts []jwks.Target) {
	f.mu.Lock()
	defer f.mu.Unlock()
	urls := []string{}
	for _, t := range ts {
		urls = append(urls, t.URL)
	}
	f.wants = append(f.wants, urls)
}

func (f *fakeKeys) Keys() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.keys {
		out[k] = v
	}
	return out
}

func (f *fakeKeys) Changes() <-chan struct{} { return f.changes }

func (f *fakeKeys) takeWants() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.wants
	f.wants = nil
	return w
}

// fakeServer stands for xds.Server with one connected gateway group: an
// Update translates the set once (through the pusher's TranslateFunc) and
// records the keys the translation saw.
type fakeServer struct {
	p       *pusher
	fail    bool
	updates []map[string]string
	sets    []string
}

func (s *fakeServer) Update(set *policies.Set) error {
	if _, err := s.p.translate(set, policies.Identity{Namespace: "istio-system"}); err != nil {
		return err
	}
	if s.fail {
		return errors.New("translation failed")
	}
	s.sets = append(s.sets, set.Hash)
	return nil
}

func jwksSet(hash string, uris ...string) *policies.Set {
	var rules []policies.JWTRule
	for _, u := range uris {
		rules = append(rules, policies.JWTRule{Issuer: "iss-" + u, JwksURI: u})
	}
	return &policies.Set{Hash: hash, RequestAuthentications: []*policies.RequestAuthentication{
		{Spec: policies.RequestAuthenticationSpec{JWTRules: rules}},
	}}
}

func TestPusherKeepsSetAndKeysConsistent(t *testing.T) {
	keys := &fakeKeys{keys: map[string]string{}, changes: make(chan struct{}, 1)}
	srv := &fakeServer{}
	var seen []map[string]string
	trans := func(_ *policies.Set, _ policies.Identity, o translate.Options) (*translate.Resources, error) {
		if o.FailClosedJWKS != "fail-closed" || o.ServerName != "srv" {
			t.Errorf("options not passed through: %+v", o)
		}
		seen = append(seen, o.JWKS)
		return &translate.Resources{}, nil
	}
	p := newPusher(srv, keys, slog.New(slog.NewTextHandler(io.Discard, nil)),
		translate.Options{ServerName: "srv", FailClosedJWKS: "fail-closed", JWKS: map[string]string{"stale": "x"}}, trans)
	srv.p = p

	p.keysChanged() // nothing pushed yet: no update
	if len(seen) != 0 {
		t.Fatalf("keysChanged before any set translated %d times", len(seen))
	}

	// A new set: its URL is wanted, the push sees no keys yet (fail closed).
	p.publish(jwksSet("s1", "http://a/keys"))
	if w := keys.takeWants(); !reflect.DeepEqual(w, [][]string{{"http://a/keys"}, {"http://a/keys"}}) {
		t.Errorf("wants %v", w)
	}
	if !reflect.DeepEqual(seen, []map[string]string{{}}) {
		t.Errorf("first push saw keys %v", seen)
	}

	// Keys arrive: the same set is pushed again with them.
	keys.mu.Lock()
	keys.keys = map[string]string{"http://a/keys": "KA"}
	keys.mu.Unlock()
	keys.changes <- struct{}{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.run(ctx); close(done) }()
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		p.mu.Lock()
		n := len(seen)
		p.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(end) {
			t.Fatal("key change not pushed")
		}
	}
	cancel()
	<-done
	if !reflect.DeepEqual(seen[1], map[string]string{"http://a/keys": "KA"}) || !reflect.DeepEqual(srv.sets, []string{"s1", "s1"}) {
		t.Errorf("re-push: keys %v, sets %v", seen[1], srv.sets)
	}

	// A set the server rejects: both sets' URLs stay wanted, the keys
	// snapshot of the set in force is restored, and the set in force is
	// what a later key change pushes.
	srv.fail = true
	p.publish(jwksSet("s2", "http://b/keys"))
	if w := keys.takeWants(); !reflect.DeepEqual(w, [][]string{{"http://a/keys", "http://b/keys"}}) {
		t.Errorf("wants after a rejected set: %v", w)
	}
	if got := *p.snapshot.Load(); !reflect.DeepEqual(got, map[string]string{"http://a/keys": "KA"}) {
		t.Errorf("snapshot after a rejected set: %v", got)
	}
	srv.fail = false
	p.keysChanged()
	if last := srv.sets[len(srv.sets)-1]; last != "s1" {
		t.Errorf("key change pushed %s, want the set in force s1", last)
	}

	// An accepted set narrows the wanted URLs to its own.
	p.publish(jwksSet("s3", "http://b/keys"))
	if w := keys.takeWants(); !reflect.DeepEqual(w, [][]string{{"http://a/keys", "http://b/keys"}, {"http://b/keys"}}) {
		t.Errorf("wants after an accepted set: %v", w)
	}
}

func TestReadiness(t *testing.T) {
	var pushed, settled bool
	ready := readiness(func() bool { return pushed }, func() bool { return settled })
	steps := []struct {
		pushed, settled bool
		want            string
	}{
		{false, true, "no valid policy set pushed yet"},
		{true, false, "first fetch of jwksUri / OIDC discovery keys still running"},
		{true, true, ""},
		{true, false, ""}, // latched: a later fetch does not unready
	}
	for i, s := range steps {
		pushed, settled = s.pushed, s.settled
		if got := ready(); got != s.want {
			t.Errorf("step %d: %q, want %q", i, got, s.want)
		}
	}
}

func TestMergeTargets(t *testing.T) {
	a := []jwks.Target{{URL: "a"}, {URL: "c", Timeout: time.Second}}
	b := []jwks.Target{{URL: "b"}, {URL: "c", Timeout: 2 * time.Second}}
	want := []jwks.Target{{URL: "a"}, {URL: "b"}, {URL: "c", Timeout: 2 * time.Second}}
	if got := mergeTargets(a, b); !reflect.DeepEqual(got, want) {
		t.Errorf("%v", got)
	}
}

// TestServeFetchesJWKSBeforeReady runs serve with a policy set naming a
// jwksUri served (slowly) by an in-process server: /readyz stays 503 until
// the fetch has completed, and /metrics counts it.
func TestServeFetchesJWKSBeforeReady(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	k, _ := jwks.FromPublicKey(&key.PublicKey)
	release := make(chan struct{})
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		<-release
		fmt.Fprintf(w, `{"keys":[{"kty":"RSA","kid":%q,"n":%q,"e":%q}]}`, k.Kid, k.N, k.E)
	}))
	defer idp.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	d := deps{
		watch: func(ctx context.Context, _ string, _ policies.WatchOptions, publish func(*policies.Set), _ func(error)) error {
			publish(jwksSet("h1", idp.URL+"/keys"))
			<-ctx.Done()
			return nil
		},
		translate: func(*policies.Set, policies.Identity, translate.Options) (*translate.Resources, error) {
			return &translate.Resources{}, nil
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs, get, done := startServe(t, ctx, d, "--policies", t.TempDir(), "--jwks-refresh", "1h")
	// Pushed, but the fetch is held: not ready, and saying why.
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		code, body := get("/readyz")
		if code == 503 && strings.Contains(body, "first fetch") {
			break
		}
		if code != 503 || time.Now().After(end) {
			t.Fatalf("readyz while the keys are being fetched: %d %q\n%s", code, body, logs)
		}
	}
	close(release)
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if code, _ := get("/readyz"); code == 200 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("never ready:\n%s", logs)
		}
	}
	_, metrics := get("/metrics")
	for _, want := range []string{`jwtgate_jwks_fetch_total{result="ok"} 1`, `jwtgate_jwks_uris{state="keys"} 1`, "jwtgate_xds_nacks_total 0"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}
	if !strings.Contains(logs.String(), `"msg":"jwks keys changed"`) || !strings.Contains(logs.String(), k.Kid) {
		t.Errorf("key change not logged with kids:\n%s", logs)
	}
	cancel()
	waitExit(t, done, logs)
}
