package e2e

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	issuer  = "testing@asm.test.io"
	subject = "demo@asm.test.io"
)

// brokenPolicy has an unknown field (spec.selectr, line brokenLine). Were it
// half-applied, /healthz would start to be denied.
const (
	brokenPolicy = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-healthz
  namespace: istio-system
spec:
  selectr:
    matchLabels:
      istio: ingressgateway
  action: DENY
  rules:
    - to:
        - operation:
            paths: ["/healthz"]
`
	brokenLine = 7
)

// tokens are the JWTs of the walkthrough, minted by `jwtgate token`.
type tokens struct {
	issOnly  string // iss only, like the guide's first token
	issSub   string // iss + sub demo@asm.test.io
	expired  string // exp one hour ago
	wrongIss string // another issuer
	otherKey string // signed by a key that is not in the JWKS
	jwks     string // JWKS of the signing key
}

// mintTokens creates the key pairs and tokens with the real binary.
func mintTokens(t *testing.T, bin, dir string) tokens {
	t.Helper()
	key := newKeyPair(t, dir, "rsa", false)
	other := newKeyPair(t, dir, "other", true)
	tk := tokens{
		jwks:     jwksFor(t, bin, key),
		issOnly:  token(t, bin, key, "--iss", issuer),
		issSub:   token(t, bin, key, "--iss", issuer, "--sub", subject),
		expired:  token(t, bin, key, "--iss", issuer, "--exp=-1h"),
		wrongIss: token(t, bin, key, "--iss", "someone-else@asm.test.io"),
		otherKey: token(t, bin, other, "--iss", issuer),
	}
	for name, tok := range map[string]string{"iss": tk.issOnly, "iss+sub": tk.issSub, "expired": tk.expired} {
		if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \n") {
			t.Fatalf("jwtgate token (%s) did not print one compact JWS: %q", name, tok)
		}
	}
	return tk
}

// TestGuideWalkthrough runs the user guide against one long-lived Envoy:
// each step is a file change in the watched directory, and every row of the
// guide's tables is checked at the gateway.
func TestGuideWalkthrough(t *testing.T) {
	s := newStack(t)
	tk := mintTokens(t, s.bin, s.dir)

	// Requests of the guide's tables.
	var (
		noJWT         = row{name: "no JWT", want: 200}
		validJWT      = row{name: "valid JWT", auth: bearer(tk.issOnly), want: 200}
		invalidJWT    = row{name: "invalid JWT", auth: "Bearer invalidToken", want: 401, challengePrefix: "Bearer realm=", challengeContains: `error="invalid_token"`}
		noJWTDenied   = row{name: "no JWT (required)", want: 401, challengePrefix: "Bearer realm="}
		issOnlyDenied = row{name: "iss-only JWT, policy wants iss/sub", auth: bearer(tk.issOnly), want: 403, bodyContains: "RBAC: access denied"}
		issSubJWT     = row{name: "iss+sub JWT", auth: bearer(tk.issSub), want: 200}
	)
	head := func(r row) row {
		r.name, r.method = "HEAD "+r.name, "HEAD"
		return r
	}

	s.writeExample("00-gateway.yaml", "")
	s.serve("envoy-local.yaml")
	s.coldStart("00-gateway (cold start)", noJWT)
	s.waitReady()
	apply := s.apply

	// RequestAuthentication alone: invalid tokens are rejected, a missing
	// token is not.
	apply("10-requestauthentication", func() {
		s.writeExample("10-requestauthentication.yaml", tk.jwks)
	}, validJWT, invalidJWT, noJWT)

	// Require a valid JWT on every request; HEAD (curl -I) answers like GET.
	apply("20-require-jwt", func() {
		s.writeExample("20-require-jwt.yaml", "")
	}, noJWTDenied, validJWT, head(noJWTDenied), head(validJWT), head(invalidJWT))

	// Only iss testing@asm.test.io with sub demo@asm.test.io.
	apply("30-issuer-subject", func() {
		s.writeExample("30-issuer-subject.yaml", "")
		s.removePolicy("20-require-jwt.yaml")
	}, issOnlyDenied, issSubJWT, noJWTDenied)

	// Troubleshooting table (with 20 back): expired token, wrong issuer,
	// key mismatch all get 401 although they are well-formed tokens.
	apply("troubleshooting", func() {
		s.writeExample("20-require-jwt.yaml", "")
		s.removePolicy("30-issuer-subject.yaml")
	},
		validJWT,
		row{name: "expired JWT", auth: bearer(tk.expired), want: 401, challengeContains: `error="invalid_token"`},
		row{name: "wrong issuer", auth: bearer(tk.wrongIss), want: 401, challengeContains: `error="invalid_token"`},
		row{name: "key mismatch", auth: bearer(tk.otherKey), want: 401, challengeContains: `error="invalid_token"`},
		noJWTDenied,
	)

	// Best practice: exempt health checks, protect the rest, and no path
	// trick may reach a protected path through the exemption.
	exempt := []row{
		{name: "healthz without JWT", path: "/healthz", want: 200},
		{name: "readyz without JWT", path: "/readyz", want: 200},
		{name: "healthz with query without JWT", path: "/healthz?probe=1", want: 200},
		{name: "headers without JWT", path: "/headers", oneOf: []int{401, 403}},
		{name: "headers with JWT", path: "/headers", auth: bearer(tk.issOnly), want: 200, bodyLacks: tk.issOnly},
	}
	bypass := []row{}
	for _, p := range []string{
		"/healthz/../headers",
		"/healthz/./../headers",
		"/healthz/%2e%2e/headers",
		"/healthz/%2E%2E/headers",
		"/%2e%2e/headers",
		"/healthz%2F..%2Fheaders",
		"/healthz%2f..%2fheaders",
		"/healthz%5C..%5Cheaders",
		"/healthz;/../headers",
		"/healthz/..;/headers",
		"//headers",
		"/healthz//../headers",
	} {
		bypass = append(bypass, row{name: "path bypass attempt", path: p, denied: true})
	}
	apply("40-exempt-healthz", func() {
		s.writeExample("40-exempt-healthz.yaml", "")
		s.removePolicy("20-require-jwt.yaml")
	}, slices.Concat(exempt, bypass)...)

	// A broken file keeps the last good configuration in force: nothing
	// changes at the gateway, validate names the file and line, and neither
	// side saw a NACK.
	s.dropRejected("50-broken", "50-broken.yaml", brokenPolicy, exempt)
	out, errOut, code := cliResult(s.bin, "validate", s.policies)
	if code != 1 {
		t.Errorf("jwtgate validate on a broken tree: exit %d, want 1\n%s%s", code, out, errOut)
	}
	if want := "50-broken.yaml:" + strconv.Itoa(brokenLine) + ":"; !strings.Contains(out+errOut, want) {
		t.Errorf("jwtgate validate output does not name %q:\n%s%s", want, out, errOut)
	}
	s.assertNoNACKs()

	// Fixing the tree applies the next change again.
	apply("recover", func() {
		s.removePolicy("50-broken.yaml")
		s.writeExample("20-require-jwt.yaml", "")
		s.removePolicy("40-exempt-healthz.yaml")
	}, row{name: "healthz without JWT (no exemption)", path: "/healthz", want: 401, challengePrefix: "Bearer realm="}, validJWT)
	if out, errOut, code := cliResult(s.bin, "validate", s.policies); code != 0 {
		t.Errorf("jwtgate validate on the fixed tree: exit %d, want 0\n%s%s", code, out, errOut)
	}
	s.assertNoNACKs()

	if log, _ := os.ReadFile(s.jwtgate.log); !strings.Contains(string(log), "envoy applied") {
		t.Errorf(`jwtgate never logged "envoy applied" (an ACK)`)
	}
	s.logLatencies("walkthrough")
}

// TestDeltaADS checks the incremental (Delta) ADS path end to end: an Envoy
// on the DELTA_GRPC bootstrap gets its configuration and follows a change.
func TestDeltaADS(t *testing.T) {
	s, tok := newGuideStack(t, "envoy-local-delta.yaml")
	s.coldStart("delta cold start",
		row{name: "no JWT (required)", want: 401, challengePrefix: "Bearer realm="},
		row{name: "valid JWT", auth: bearer(tok), want: 200},
	)
	s.apply("delta: drop 20-require-jwt", func() { s.removePolicy("20-require-jwt.yaml") },
		row{name: "no JWT", want: 200},
		row{name: "invalid JWT", auth: "Bearer invalidToken", want: 401},
	)
	s.assertNoNACKs()
}

// TestNoTokenStatus403 checks the Istio-compatible option: with
// --no-token-status 403 a request without a token that authorization
// requires gets Istio's 403, while a bad token still gets 401.
func TestNoTokenStatus403(t *testing.T) {
	s, tok := newGuideStack(t, "envoy-local.yaml", "--no-token-status", "403")
	s.coldStart("no-token-status 403",
		row{name: "no JWT (required)", want: 403, bodyContains: "RBAC: access denied"},
		row{name: "valid JWT", auth: bearer(tok), want: 200},
		row{name: "invalid JWT", auth: "Bearer invalidToken", want: 401, challengeContains: `error="invalid_token"`},
	)
	s.assertNoNACKs()
}
