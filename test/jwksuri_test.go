package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// idpServer is an in-process identity provider on 127.0.0.1 whose JWKS the
// test swaps: it serves /jwks.json and an OIDC discovery document
// (/.well-known/openid-configuration, jwks_uri = /oidc/jwks.json).
type idpServer struct {
	mu       sync.Mutex
	base     string // http://127.0.0.1:PORT
	jwks     string
	oidcJWKS string
	hits     map[string]int
}

func (p *idpServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.hits[r.URL.Path]++
	jwks, oidc := p.jwks, p.oidcJWKS
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/jwks.json":
		fmt.Fprint(w, jwks)
	case "/.well-known/openid-configuration":
		fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q,"id_token_signing_alg_values_supported":["RS256"]}`,
			p.base, p.base+"/oidc/jwks.json")
	case "/oidc/jwks.json":
		fmt.Fprint(w, oidc)
	default:
		http.NotFound(w, r)
	}
}

func (p *idpServer) setJWKS(jwks string) {
	p.mu.Lock()
	p.jwks = jwks
	p.mu.Unlock()
}

func (p *idpServer) hitCount(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[path]
}

// serveIDPOn serves p on 127.0.0.1:port until the test ends.
func serveIDPOn(t *testing.T, p *idpServer, port int) {
	t.Helper()
	l, err := net.Listen("tcp", hostPort(port))
	if err != nil {
		t.Fatalf("identity provider on port %d: %v", port, err)
	}
	srv := &http.Server{Handler: p}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// jwksURIRule is one jwtRules item taking its keys from jwksUri (none when
// empty: OIDC discovery from the issuer); extra as in jwtRule.
func jwksURIRule(issuer, jwksURI string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "    - issuer: %q\n", issuer)
	if jwksURI != "" {
		fmt.Fprintf(&b, "      jwksUri: %q\n", jwksURI)
	}
	for _, e := range extra {
		fmt.Fprintf(&b, "      %s\n", e)
	}
	return b.String()
}

// metricValue is the value of one sample line (name with labels) of
// jwtgate's /metrics, or -1 when it is missing.
func (s *stack) metricValue(sample string) float64 {
	s.t.Helper()
	for _, line := range strings.Split(s.get("http://"+hostPort(s.httpPort)+"/metrics"), "\n") {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// jwtgateLog is jwtgate's log so far.
func (s *stack) jwtgateLog() string {
	b, err := os.ReadFile(s.jwtgate.log)
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

// TestJWKSUri: keys from jwksUri and OIDC discovery, fetched by jwtgate and
// inlined, against a real Envoy. One RequestAuthentication names four
// issuers:
//   - rotating: jwksUri on a running identity provider; its key is later
//     replaced, and after a refresh (--jwks-refresh 1s) the new key's tokens
//     pass and the old key's get 401;
//   - late: jwksUri on a port where nothing listens at start, so its tokens
//     get 401 (fail closed); once the provider comes up they pass;
//   - oidc: no jwksUri, issuer http://127.0.0.1:PORT, keys found through
//     the discovery document's jwks_uri;
//   - metadata: jwksUri on 169.254.169.254, refused by the SSRF guard before
//     any connection (the rule's 30s timeout never runs: the refusal is
//     logged at once), so its tokens get 401.
//
// Unchanged keys on every 1s refresh must not change the snapshot, and
// neither side may see a NACK.
func TestJWKSUri(t *testing.T) {
	requireE2E(t)
	envoyPath(t)
	s := newStack(t)

	idp := &idpServer{hits: map[string]int{}}
	idpPort := serveLoopback(t, idp)
	idp.base = "http://" + hostPort(idpPort)
	latePort := freePort(t) // nothing listens here until the "late" step
	late := &idpServer{hits: map[string]int{}, base: "http://" + hostPort(latePort)}

	const (
		issRotating = "https://rotating.example.com"
		issLate     = "https://late.example.com"
		issMetadata = "https://metadata.example.com"
		metadataURI = "http://169.254.169.254/latest/meta-data/jwks.json"
	)
	issOIDC := idp.base

	key1 := newKeyPair(t, s.dir, "rotating-1", false)
	key2 := newKeyPair(t, s.dir, "rotating-2", false)
	keyLate := newKeyPair(t, s.dir, "late", false)
	keyOIDC := newKeyPair(t, s.dir, "oidc", false)
	keyMeta := newKeyPair(t, s.dir, "metadata", false)
	idp.setJWKS(jwksFor(t, s.bin, key1))
	idp.oidcJWKS = jwksFor(t, s.bin, keyOIDC)
	late.setJWKS(jwksFor(t, s.bin, keyLate))
	token := func(k keyPair, iss string) string {
		return cli(t, s.bin, "token", "--key", k.priv, "--iss", iss, "--sub", "someone")
	}
	tok1, tok2 := token(key1, issRotating), token(key2, issRotating)
	tokLate, tokOIDC, tokMeta := token(keyLate, issLate), token(keyOIDC, issOIDC), token(keyMeta, issMetadata)

	httpbinPort := startHTTPBin(t)
	s.writePolicy("00-gateway.yaml", render(t, "00-gateway.yaml", ""))
	s.writePolicy("10-jwksuri.yaml", requestAuthn("jwks-uri",
		jwksURIRule(issRotating, idp.base+"/jwks.json"),
		jwksURIRule(issLate, late.base+"/jwks.json", `timeout: "2s"`),
		jwksURIRule(issOIDC, ""),
		jwksURIRule(issMetadata, metadataURI, `timeout: "30s"`),
	))
	s.startJWTGate(httpbinPort, "--jwks-refresh", "1s")
	start := time.Now()
	s.startEnvoy("envoy-local.yaml")

	const invalid = `error="invalid_token"`
	ok := func(name, tok string) row { return row{name: name, auth: bearer(tok), want: 200} }
	rejected := func(name, tok string) row {
		return row{name: name, auth: bearer(tok), want: 401, challengeContains: invalid}
	}
	d := s.waitRows("cold start", start, reviewColdStart, []row{
		ok("jwksUri: key 1", tok1),
		rejected("jwksUri: key 2 not published yet", tok2),
		ok("OIDC discovery", tokOIDC),
		rejected("jwksUri server down: fail closed", tokLate),
		rejected("jwksUri on 169.254.169.254: refused, fail closed", tokMeta),
		{name: "no token (no authorization policy)", want: 200},
	})
	t.Logf("cold start: %d ms", d.Milliseconds())
	s.waitHTTP("jwtgate /readyz", "http://"+hostPort(s.httpPort)+"/readyz", 5*time.Second)
	if idp.hitCount("/.well-known/openid-configuration") == 0 || idp.hitCount("/oidc/jwks.json") == 0 {
		t.Errorf("OIDC discovery not used: %d discovery, %d jwks requests",
			idp.hitCount("/.well-known/openid-configuration"), idp.hitCount("/oidc/jwks.json"))
	}

	// The metadata URI is refused with the reason in the log.
	log := s.jwtgateLog()
	for _, want := range []string{"refused by the SSRF guard", "169.254.169.254 is a cloud metadata address", "nothing was sent"} {
		if !strings.Contains(log, want) {
			t.Errorf("jwtgate log lacks %q", want)
		}
	}

	// Refreshes with unchanged keys push nothing new.
	updates := s.metricValue("jwtgate_snapshot_updates_total")
	refused := s.metricValue(`jwtgate_jwks_fetch_total{result="refused"}`)
	s.holdRows("unchanged keys over 3 refreshes", 3*time.Second, []row{ok("jwksUri: key 1", tok1), ok("OIDC discovery", tokOIDC)})
	if after := s.metricValue("jwtgate_snapshot_updates_total"); after != updates {
		t.Errorf("snapshot updates went from %v to %v while no key changed", updates, after)
	}
	// "refused" counts only requests the guard stopped before connect(2)
	// (dial-time check or URL check). With a 30s rule timeout, attempts
	// that connected (and hung) could not repeat every second; refusals do.
	if after := s.metricValue(`jwtgate_jwks_fetch_total{result="refused"}`); refused < 1 || after < refused+2 {
		t.Errorf(`jwtgate_jwks_fetch_total{result="refused"} went from %v to %v in 3s, want >= 1 and rising by >= 2 (a retry about every second)`, refused, after)
	}

	// Key rotation: the provider publishes key 2 only.
	begin := time.Now()
	idp.setJWKS(jwksFor(t, s.bin, key2))
	d = s.waitRows("rotation", begin, stepDeadline, []row{
		ok("jwksUri: key 2", tok2),
		rejected("jwksUri: key 1 no longer published", tok1),
		ok("OIDC discovery (unchanged)", tokOIDC),
	})
	t.Logf("apply latency: step=rotation ms=%d", d.Milliseconds())

	// The provider that was down comes up.
	begin = time.Now()
	serveIDPOn(t, late, latePort)
	d = s.waitRows("provider up", begin, stepDeadline, []row{
		ok("jwksUri server up", tokLate),
		ok("jwksUri: key 2", tok2),
		rejected("jwksUri on 169.254.169.254: still refused", tokMeta),
	})
	t.Logf("apply latency: step=provider-up ms=%d", d.Milliseconds())

	log = s.jwtgateLog()
	for _, want := range []string{"jwks keys changed", thumbprint(key2.key), thumbprint(keyLate.key), "fail closed"} {
		if !strings.Contains(log, want) {
			t.Errorf("jwtgate log lacks %q", want)
		}
	}
	if v := s.metricValue(`jwtgate_jwks_uris{state="keys"}`); v != 3 {
		t.Errorf(`jwtgate_jwks_uris{state="keys"} = %v, want 3 (all but the metadata URI)`, v)
	}
	s.assertNoNACKs()
}
