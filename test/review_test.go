package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Regression tests for the round-3 semantic review (a reviewer's findings
// against a real Envoy): each test reproduces one finding end to end and
// asserts Istio's behaviour (or DESIGN.md's where it decides otherwise).
// Every test first waits for control rows that hold with or without the fix
// (so the configuration is known to be in force), then checks the rows of
// the finding.

// reviewColdStart is coldStartDeadline under its older name (test/jwksuri_test.go
// uses it).
const reviewColdStart = coldStartDeadline

// servedBy checks that the answer came from the startBackend named name.
func servedBy(name string) func(*response) string {
	return func(resp *response) string {
		if got := resp.header.Get("X-Backend"); got != name {
			return fmt.Sprintf("served by backend %q, want %q; body %.120q", got, name, resp.body)
		}
		return ""
	}
}

// noBackend checks that no startBackend answered (Envoy's own reply).
func noBackend(resp *response) string {
	if got := resp.header.Get("X-Backend"); got != "" {
		return fmt.Sprintf("backend %q answered, want Envoy's own reply; body %.120q", got, resp.body)
	}
	return ""
}

// atHost sends the row's request with the given Host header.
func atHost(host string, r row) row {
	r.header = append(slices.Clone(r.header), "Host: "+host)
	r.name += " [Host: " + host + "]"
	return r
}

// routedTo is a row that must reach backend at host and path.
func routedTo(host, path, backend string, header ...string) row {
	return atHost(host, row{name: "to " + backend, path: path, header: header, want: 200, verify: servedBy(backend)})
}

// notRouted is a row that no route of host takes: Envoy's 404.
func notRouted(host, path string, header ...string) row {
	return atHost(host, row{name: "no route", path: path, header: header, want: 404, verify: noBackend})
}

// gatewayDoc is a Gateway for the istio=ingressgateway Envoy with one HTTP
// server on gatewayServerPort for hosts (written as given, "ns/host" forms
// included).
func gatewayDoc(namespace, name string, hosts ...string) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata:
  name: %s
  namespace: %s
spec:
  selector:
    istio: ingressgateway
  servers:
    - hosts: [%s]
      port:
        name: http
        number: %d
        protocol: HTTP
`, name, namespace, quoted(hosts), gatewayServerPort)
}

// virtualServiceDoc is a VirtualService bound to gateway for hosts, with
// http rules made by httpRule.
func virtualServiceDoc(namespace, name, gateway string, hosts []string, rules ...string) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: %s
  namespace: %s
spec:
  gateways: [%q]
  hosts: [%s]
  http:
%s`, name, namespace, gateway, quoted(hosts), strings.Join(rules, ""))
}

// httpRule is one http rule routing to destination host dest (port 80; the
// stack's --resolve gives the real address). match, if not empty, is the
// YAML of the rule's match list, written without indentation.
func httpRule(dest, match string) string {
	var b strings.Builder
	b.WriteString("    - ")
	if match != "" {
		b.WriteString("match:\n")
		for _, l := range strings.Split(strings.TrimRight(match, "\n"), "\n") {
			fmt.Fprintf(&b, "        %s\n", l)
		}
		b.WriteString("      ")
	}
	fmt.Fprintf(&b, "route:\n        - destination:\n            host: %s\n            port:\n              number: 80\n", dest)
	return b.String()
}

// quoted is a YAML flow list body of double-quoted strings.
func quoted(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

// resolveFlags are --resolve flags sending each named backend to its port.
func resolveFlags(backends map[string]int) []string {
	names := make([]string, 0, len(backends))
	for n := range backends {
		names = append(names, n)
	}
	slices.Sort(names)
	var flags []string
	for _, n := range names {
		flags = append(flags, "--resolve", n+"="+hostPort(backends[n]))
	}
	return flags
}

// startRouting starts one backend per name, jwtgate (sending each name to
// its backend) and Envoy on the policies already written, and waits until
// the control rows hold.
func (s *stack) startRouting(names []string, control ...row) {
	s.t.Helper()
	backends := map[string]int{}
	for _, n := range names {
		backends[n] = startBackend(s.t, n)
	}
	s.startJWTGate(startBackend(s.t, "httpbin"), resolveFlags(backends)...)
	s.startEnvoy("envoy-local.yaml")
	s.coldStart("cold start (control rows)", control...)
}

// TestReviewSameIssuerRules (review item 1): two RequestAuthentications
// naming the same issuer are two providers, as in istiod (one per jwtRule,
// no dedup by issuer). Rule A reads the default locations; rule B reads
// only x-api-token and writes the role claim to x-jwt-role. A garbage token
// in B's header is rejected, a valid one passes and is not forwarded, and
// x-jwt-role holds the token's claim, never the client's.
func TestReviewSameIssuerRules(t *testing.T) {
	s := newStack(t)
	key := newKeyPair(t, s.dir, "rsa", false)
	jwks := jwksFor(t, s.bin, key)
	tok := token(t, s.bin, key, "--iss", issuer, "--sub", subject)
	userTok := token(t, s.bin, key, "--iss", issuer, "--sub", subject, "--claim", "role=user")

	s.writeExample("00-gateway.yaml", "")
	s.writePolicy("10-a-inline.yaml", requestAuthn("a-inline", jwtRule(issuer, jwks)))
	s.writePolicy("11-b-header.yaml", requestAuthn("b-header", jwtRule(issuer, jwks,
		"fromHeaders:\n  - name: x-api-token",
		"outputClaimToHeaders:\n  - header: x-jwt-role\n    claim: role")))
	s.serve("envoy-local.yaml")

	const invalid = `error="invalid_token"`
	s.coldStart("cold start (rule A)",
		row{name: "rule A: valid token in Authorization", auth: bearer(tok), want: 200},
		row{name: "rule A: garbage token in Authorization", auth: "Bearer invalidToken", want: 401, challengeContains: invalid},
		row{name: "no token (no authorization policy)", want: 200},
	)

	s.waitRows("review 1: same issuer, rule B", time.Now(), stepDeadline, []row{
		{name: "rule B: garbage token in x-api-token", path: "/headers", header: []string{"x-api-token: garbage"},
			want: 401, challengePrefix: "Bearer realm=", challengeContains: invalid},
		{name: "rule B: valid token in x-api-token (not forwarded)", path: "/headers",
			header: []string{"x-api-token: " + tok}, want: 200, bodyLacks: tok},
		{name: "rule B: role=user token in x-api-token, forged x-jwt-role: admin", path: "/headers",
			header: []string{"x-api-token: " + userTok, "x-jwt-role: admin"}, want: 200,
			verify: backendGot("x-jwt-role", "user")},
		{name: "no token, forged x-jwt-role: admin", path: "/headers",
			header: []string{"x-jwt-role: admin"}, want: 200, verify: backendLacks("x-jwt-role")},
	})
	s.assertNoNACKs()
}

// dryRunAllowAll is an ALLOW policy admitting every request, annotated
// istio.io/dry-run: value.
func dryRunAllowAll(value string) string {
	return fmt.Sprintf(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: trial-allow-all
  namespace: istio-system
  annotations:
    istio.io/dry-run: %q
spec:
  action: ALLOW
  rules:
    - {}
`, value)
}

// TestReviewDryRunAnnotation (review item 2): istio.io/dry-run takes every
// strconv.ParseBool spelling, like Istio's isDryRun. A trial ALLOW-all
// policy marked "1", "t" or "T" must not open a gateway that require-jwt
// closes (tokenless GET stays 401, Envoy counts a shadow allow); marked
// "0", "f" or "F" it is enforced and does open it. The steps alternate, so
// each one changes the answer of the step before.
func TestReviewDryRunAnnotation(t *testing.T) {
	s, tok := newGuideStack(t, "envoy-local.yaml")
	closed := row{name: "no token (require-jwt enforced)", want: 401, challengePrefix: "Bearer realm=", challengeLacks: "error="}
	opened := row{name: "no token (enforced ALLOW-all)", want: 200}
	valid := row{name: "valid token", auth: bearer(tok), want: 200}
	s.coldStart("cold start (require-jwt)", closed, valid)

	for _, step := range []struct {
		value  string
		dryRun bool
	}{{"0", false}, {"1", true}, {"f", false}, {"t", true}, {"F", false}, {"T", true}} {
		name := fmt.Sprintf("review 2: istio.io/dry-run %q", step.value)
		before := s.statSum("shadow_allowed")
		want := opened
		if step.dryRun {
			want = closed
		}
		s.apply(name, func() { s.writePolicy("30-trial.yaml", dryRunAllowAll(step.value)) }, want, valid)
		if step.dryRun && s.statSum("shadow_allowed") <= before {
			t.Errorf("%s: Envoy counted no shadow allow: the dry-run ALLOW is not evaluated as shadow rules", name)
		}
	}
	s.assertNoNACKs()
}

// TestReviewGatewayHostNamespace (review item 3): the namespace part of a
// Gateway server host restricts which VirtualServices may bind to it, as
// in Istio: "./h" only the Gateway's namespace, "ns/h" only ns, "*/h" any.
// A default-namespace VirtualService listing admin.example.com and bound to
// istio-system/gw (hosts ./admin.example.com) must not capture it; the
// Gateway's own namespace still may.
func TestReviewGatewayHostNamespace(t *testing.T) {
	s := newStack(t)
	s.writePolicy("00-gateway.yaml", gatewayDoc("istio-system", "gw",
		"./admin.example.com", "*/open.example.com", "default/team.example.com", "other/else.example.com"))
	s.writePolicy("10-hijack.yaml", virtualServiceDoc("default", "hijack", "istio-system/gw",
		[]string{"admin.example.com", "open.example.com", "team.example.com", "else.example.com"},
		httpRule("hijack", "")))
	s.startRouting([]string{"admin", "hijack"},
		routedTo("open.example.com", "/", "hijack")) // "*/host": any namespace

	s.waitRows("review 3: namespace part of Gateway hosts", time.Now(), stepDeadline, []row{
		routedTo("team.example.com", "/", "hijack"), // "default/host" admits default
		notRouted("admin.example.com", "/"),         // "./host": istio-system only
		notRouted("admin.example.com", "/admin"),
		notRouted("else.example.com", "/"), // "other/host": other only
	})

	// The Gateway's own namespace binds "./admin.example.com".
	s.apply("review 3: istio-system VirtualService binds ./admin.example.com", func() {
		s.writePolicy("20-admin.yaml", virtualServiceDoc("istio-system", "admin", "gw",
			[]string{"admin.example.com"}, httpRule("admin", "")))
	},
		routedTo("admin.example.com", "/", "admin"),
		routedTo("admin.example.com", "/admin", "admin"),
		routedTo("open.example.com", "/", "hijack"),
	)
	s.assertNoNACKs()
}

// TestReviewWildcardHostWithPort (review item 5): a wildcard Gateway and
// VirtualService host matches a Host header that carries a port, any port,
// like Istio's gateway (ignore_port_in_host_matching); exact hosts too.
func TestReviewWildcardHostWithPort(t *testing.T) {
	s := newStack(t)
	s.writePolicy("00-gateway.yaml", gatewayDoc("default", "gw", "*.example.com"))
	s.writePolicy("10-wild.yaml", virtualServiceDoc("default", "wild", "gw",
		[]string{"*.example.com"}, httpRule("wild", "")))
	s.writePolicy("11-exact.yaml", virtualServiceDoc("default", "exact", "gw",
		[]string{"api.example.com"}, httpRule("exact", "")))
	s.startRouting([]string{"wild", "exact"},
		routedTo("a.example.com", "/", "wild"),
		routedTo("api.example.com", "/", "exact"))

	port := strconv.Itoa(s.gatewayPort)
	s.waitRows("review 5: Host with a port", time.Now(), stepDeadline, []row{
		routedTo("a.example.com:"+port, "/", "wild"),
		routedTo("A.Example.COM:"+port, "/", "wild"),
		routedTo("b.c.example.com:"+port, "/x", "wild"),
		routedTo("a.example.com:1234", "/", "wild"),
		routedTo("api.example.com:"+port, "/", "exact"),
		notRouted("example.com:"+port, "/"),
		notRouted("a.example.org:"+port, "/"),
	})
	s.assertNoNACKs()
}

// TestReviewCatchAllOrder (review item 6): a catch-all route (no match,
// prefix "/" or regex ".*" alone, as istiod's IsCatchAllRoute) of an earlier VirtualService does not hide the routes
// of a later one on the same host: Istio moves catch-all routes to the end
// of the virtual host. A "/" prefix with a header condition is no catch-all
// and keeps its place. Each step changes a-frontend's destination, so it
// cannot pass on the previous configuration.
func TestReviewCatchAllOrder(t *testing.T) {
	s := newStack(t)
	const host = "shop.example.com"
	frontend := func(dest, match string) string {
		return virtualServiceDoc("default", "a-frontend", "gw", []string{host}, httpRule(dest, match))
	}
	s.writePolicy("00-gateway.yaml", gatewayDoc("default", "gw", host))
	s.writePolicy("10-a-frontend.yaml", frontend("front1", ""))
	s.writePolicy("20-b-api.yaml", virtualServiceDoc("default", "b-api", "gw", []string{host},
		httpRule("api", "- uri:\n    prefix: /api/")))
	s.startRouting([]string{"front1", "front2", "api"}, routedTo(host, "/", "front1"))

	s.waitRows("review 6: catch-all without match", time.Now(), stepDeadline, []row{
		routedTo(host, "/api/x", "api"),
		routedTo(host, "/api/", "api"),
		routedTo(host, "/apix", "front1"),
		routedTo(host, "/other", "front1"),
	})

	steps := []struct {
		name, match string
		rows        []row
	}{
		{"catch-all prefix /", "- uri:\n    prefix: /", []row{
			routedTo(host, "/", "front2"),
			routedTo(host, "/api/x", "api"),
			routedTo(host, "/other", "front2"),
		}},
		{"catch-all regex .*", "- uri:\n    regex: \".*\"", []row{
			routedTo(host, "/", "front1"),
			routedTo(host, "/api/x", "api"),
			routedTo(host, "/other", "front1"),
		}},
		{"prefix / with a header is no catch-all", "- uri:\n    prefix: /\n  headers:\n    x-variant:\n      exact: a", []row{
			routedTo(host, "/api/x", "front2", "x-variant: a"),
			routedTo(host, "/api/x", "api"),
			notRouted(host, "/other"),
		}},
	}
	dest := []string{"front2", "front1", "front2"}
	for i, st := range steps {
		s.apply("review 6: "+st.name, func() { s.writePolicy("10-a-frontend.yaml", frontend(dest[i], st.match)) }, st.rows...)
	}
	s.assertNoNACKs()
}

// TestReviewInvalidOutputHeader (review item 7): header names the jwt_authn
// filter would write or read are validated (Istio: strict HTTP header
// names). `jwtgate validate` rejects outputClaimToHeaders[].header "x bad"
// naming file:line and field; dropped into the watched folder it changes
// nothing (the last good Set stays, no NACK) until it is fixed.
// outputPayloadToHeader and fromHeaders[].name get the same check.
func TestReviewInvalidOutputHeader(t *testing.T) {
	s := newStack(t)
	const issuerC = "https://c.example.com"
	ka := newKeyPair(t, s.dir, "issuer-a", false)
	kc := newKeyPair(t, s.dir, "issuer-c", false)
	tokA := token(t, s.bin, ka, "--iss", issuer, "--sub", subject)
	tokC := token(t, s.bin, kc, "--iss", issuerC, "--sub", "c-user")
	jwksC := jwksFor(t, s.bin, kc)
	withHeader := func(field string) string {
		return requestAuthn("issuer-c", jwtRule(issuerC, jwksC, field))
	}
	bad := withHeader("outputClaimToHeaders:\n  - header: \"x bad\"\n    claim: sub")

	// validate on a folder holding only the bad file, then on variants.
	for _, c := range []struct{ file, doc, field, marker string }{
		{"15-bad-header.yaml", bad, "spec.jwtRules[0].outputClaimToHeaders[0].header", `header: "x bad"`},
		{"15-bad-payload.yaml", withHeader(`outputPayloadToHeader: "x bad"`),
			"spec.jwtRules[0].outputPayloadToHeader", `outputPayloadToHeader: "x bad"`},
		{"15-bad-from.yaml", withHeader("fromHeaders:\n  - name: \"x bad\""),
			"spec.jwtRules[0].fromHeaders[0].name", `name: "x bad"`},
	} {
		dir := filepath.Join(s.dir, "validate-"+strings.TrimSuffix(c.file, ".yaml"))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, c.file), []byte(c.doc), 0o644); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := cliResult(s.bin, "validate", dir)
		if code != 1 {
			t.Errorf("jwtgate validate %s: exit %d, want 1\n%s%s", c.file, code, out, errOut)
		}
		want := fmt.Sprintf("%s:%d:", c.file, lineOf(t, c.doc, c.marker))
		if !strings.Contains(errOut, want) || !strings.Contains(errOut, c.field) {
			t.Errorf("jwtgate validate %s: want an error naming %q and field %s, got:\n%s%s", c.file, want, c.field, out, errOut)
		}
	}

	s.writeExample("00-gateway.yaml", "")
	s.writePolicy("10-issuer-a.yaml", requestAuthn("issuer-a", jwtRule(issuer, jwksFor(t, s.bin, ka))))
	s.serve("envoy-local.yaml")
	before := []row{
		{name: "issuer A token", path: "/headers", auth: bearer(tokA), want: 200},
		{name: "issuer C token (no rule in force)", path: "/headers", auth: bearer(tokC), want: 401,
			challengeContains: `error="invalid_token"`},
		{name: "no token", want: 200},
	}
	s.coldStart("cold start", before...)

	// Applied, the bad file would turn every issuer C request into 503
	// (invalid header name); rejected, issuer C stays unknown (401).
	s.dropRejected("review 7: bad header name dropped in", "15-bad-header.yaml", bad, before)
	out, errOut, code := cliResult(s.bin, "validate", s.policies)
	if want := fmt.Sprintf("15-bad-header.yaml:%d:", lineOf(t, bad, `header: "x bad"`)); code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("jwtgate validate on the watched folder: exit %d, want 1 naming %q:\n%s%s", code, want, out, errOut)
	}
	s.assertNoNACKs()

	// Fixed, the same rule applies: issuer C passes and its claim arrives.
	s.apply("review 7: header name fixed", func() {
		s.writePolicy("15-bad-header.yaml", withHeader("outputClaimToHeaders:\n  - header: x-good\n    claim: sub"))
	},
		row{name: "issuer C token, claim in x-good", path: "/headers", auth: bearer(tokC), want: 200,
			verify: backendGot("x-good", "c-user")},
		row{name: "issuer A token", path: "/headers", auth: bearer(tokA), want: 200, verify: backendLacks("x-good")},
	)
	s.assertNoNACKs()
}

// lineOf is the 1-based line of doc holding marker, which must occur once.
func lineOf(t *testing.T, doc, marker string) int {
	t.Helper()
	if n := strings.Count(doc, marker); n != 1 {
		t.Fatalf("marker %q occurs %d times in the document, want once", marker, n)
	}
	return strings.Count(doc[:strings.Index(doc, marker)], "\n") + 1
}
