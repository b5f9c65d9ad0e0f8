package e2e

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// jwtgateUserAgent is the User-Agent of jwtgate's own key fetcher.
const jwtgateUserAgent = "jwtgate"

// uaRecorder records who sent every request, per path, before handing it
// to the wrapped handler: its User-Agent ("jwtgate" for jwtgate's fetcher;
// Envoy 1.40's JWKS fetcher sends "Go-browser") and the
// x-envoy-expected-rq-timeout-ms header that only Envoy sends (the
// remote_jwks http_uri timeout).
type uaRecorder struct {
	next http.Handler
	mu   sync.Mutex
	reqs map[string][]sender // by path
}

// sender is what uaRecorder keeps of one request.
type sender struct {
	userAgent, envoyTimeout string
}

func (u *uaRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.reqs[r.URL.Path] = append(u.reqs[r.URL.Path], sender{r.UserAgent(), r.Header.Get("X-Envoy-Expected-Rq-Timeout-Ms")})
	u.mu.Unlock()
	u.next.ServeHTTP(w, r)
}

// senders returns the requests for path so far.
func (u *uaRecorder) senders(path string) []sender {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]sender(nil), u.reqs[path]...)
}

// TestRemoteJWKS: with --jwks-fetcher envoy, Envoy fetches the keys of a
// jwksUri rule itself (remote_jwks through a generated STATIC cluster to
// 127.0.0.1) and jwtgate never requests that URI; a rule without jwksUri
// still gets its keys through jwtgate's OIDC discovery. A valid token
// passes once Envoy has fetched, a token of another key gets 401, and a
// policy naming a jwksUri on the metadata address is rejected (the
// configuration in force stays). No NACK on either side.
func TestRemoteJWKS(t *testing.T) {
	requireE2E(t)
	envoyPath(t)
	s := newStack(t)

	idp := &idpServer{hits: map[string]int{}}
	rec := &uaRecorder{next: idp, reqs: map[string][]sender{}}
	idp.base = "http://" + hostPort(serveLoopback(t, rec))

	const issRemote = "https://remote.example.com"
	issOIDC := idp.base
	key := newKeyPair(t, s.dir, "remote", false)
	other := newKeyPair(t, s.dir, "other", false)
	keyOIDC := newKeyPair(t, s.dir, "oidc", false)
	idp.setJWKS(jwksFor(t, s.bin, key))
	idp.oidcJWKS = jwksFor(t, s.bin, keyOIDC)
	token := func(k keyPair, iss string) string {
		return cli(t, s.bin, "token", "--key", k.priv, "--iss", iss, "--sub", "someone")
	}
	tok, tokOther, tokOIDC := token(key, issRemote), token(other, issRemote), token(keyOIDC, issOIDC)

	httpbinPort := startHTTPBin(t)
	s.writePolicy("00-gateway.yaml", render(t, "00-gateway.yaml", ""))
	s.writePolicy("10-remote.yaml", requestAuthn("remote-jwks",
		jwksURIRule(issRemote, idp.base+"/jwks.json", `timeout: "2s"`),
		jwksURIRule(issOIDC, ""),
	))
	s.startJWTGate(httpbinPort, "--jwks-fetcher", "envoy")
	start := time.Now()
	s.startEnvoy("envoy-local.yaml")

	rows := []row{
		{name: "remote_jwks: valid token", auth: bearer(tok), want: 200},
		{name: "remote_jwks: token of another key", auth: bearer(tokOther), want: 401, challengeContains: `error="invalid_token"`},
		{name: "OIDC discovery (jwtgate fetches)", auth: bearer(tokOIDC), want: 200},
		{name: "no token (no authorization policy)", want: 200},
	}
	d := s.waitRows("cold start", start, coldStartDeadline, rows)
	t.Logf("cold start: %d ms", d.Milliseconds())
	s.waitReady()

	// Only Envoy requested the jwksUri, with the rule's 2s timeout;
	// jwtgate did the discovery.
	remote := rec.senders("/jwks.json")
	if len(remote) == 0 {
		t.Fatal("nobody fetched /jwks.json, yet its tokens pass")
	}
	for _, r := range remote {
		if r.userAgent == jwtgateUserAgent || r.envoyTimeout != "2000" {
			t.Errorf("jwksUri request %+v: want Envoy's (not User-Agent %q, x-envoy-expected-rq-timeout-ms 2000)", r, jwtgateUserAgent)
		}
	}
	t.Logf("jwksUri requests: %+v", remote)
	for _, path := range []string{"/.well-known/openid-configuration", "/oidc/jwks.json"} {
		got := rec.senders(path)
		if len(got) == 0 {
			t.Errorf("%s: never requested; jwtgate should do OIDC discovery", path)
		}
		for _, r := range got {
			if r.userAgent != jwtgateUserAgent || r.envoyTimeout != "" {
				t.Errorf("%s: request %+v, want jwtgate's", path, r)
			}
		}
	}
	if v := s.metricValue(`jwtgate_jwks_uris{state="wanted"}`); v != 1 {
		t.Errorf(`jwtgate_jwks_uris{state="wanted"} = %v, want 1 (the discovery URL only)`, v)
	}
	stats := s.get("http://" + hostPort(s.adminPort) + "/stats?filter=jwks_fetch")
	if !strings.Contains(stats, "jwks_fetch_success") {
		t.Errorf("Envoy stats show no jwks fetch:\n%s", stats)
	}

	// A jwksUri on the metadata address: Envoy has no SSRF guard, so the
	// whole set is rejected and the one in force stays.
	s.dropRejected("metadata jwksUri refused", "20-metadata.yaml", requestAuthn("metadata",
		jwksURIRule("https://metadata.example.com", "http://169.254.169.254/latest/jwks.json")), rows)
	log := s.jwtgateLog()
	for _, want := range []string{"refused by the SSRF guard", "169.254.169.254 is a cloud metadata address", "policy set not applied"} {
		if !strings.Contains(log, want) {
			t.Errorf("jwtgate log lacks %q", want)
		}
	}
	s.assertNoNACKs()
}
