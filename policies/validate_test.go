package policies

import (
	"strings"
	"testing"
)

const (
	vsHead = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs\n"
	apHead = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: ap\n"
)

// inRoot puts the first document of doc into the root namespace
// istio-system (one line after "metadata:"), so that a security policy
// gets no "no namespace" warning.
func inRoot(doc string) string {
	return strings.Replace(doc, "\nmetadata:\n", "\nmetadata:\n  namespace: istio-system\n", 1)
}

// jwtRule renders a one-rule RequestAuthentication with the given jwks
// (YAML single-quoted) and extra rule lines.
func jwtRule(jwks string, extra ...string) string {
	s := raHead + "spec:\n  jwtRules:\n  - issuer: testing@asm.test.io\n"
	if jwks != "" {
		s += "    jwks: '" + jwks + "'\n"
	}
	for _, e := range extra {
		s += "    " + e + "\n"
	}
	return s
}

func TestValidateRequestAuthentication(t *testing.T) {
	runErrCases(t, []errCase{
		{"guide placeholder jwks", map[string]string{"f.yaml": jwtRule(`{"keys":[{"kty":"RSA","e":"AQAB","kid":"59399e22-7a9a-45ed-8c76-7add786****"}]}`)},
			[]string{`f.yaml:8:11: spec.jwtRules[0].jwks: key 0 (kid "59399e22-7a9a-45ed-8c76-7add786****") has no "n": this looks like the guide's placeholder; generate a real JWKS with "jwtgate jwk"`}},
		{"jwks not json", map[string]string{"f.yaml": jwtRule(`{"keys":[`)},
			[]string{`f.yaml:8:11: spec.jwtRules[0].jwks: not valid JSON`}},
		{"jwks without keys", map[string]string{"f.yaml": jwtRule(`{"kty":"RSA"}`)},
			[]string{`f.yaml:8:11: spec.jwtRules[0].jwks: expected a JSON Web Key Set {"keys":[...]}, found no "keys"`}},
		{"jwks empty", map[string]string{"f.yaml": jwtRule(`{"keys":[]}`)},
			[]string{`f.yaml:8:11: spec.jwtRules[0].jwks: "keys" is empty`}},
		{"symmetric key", map[string]string{"f.yaml": jwtRule(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`)},
			[]string{`f.yaml:8:11: spec.jwtRules[0].jwks: key 0 is a symmetric key (kty "oct"): not supported`}},
		{"ec key without y, okp without x", map[string]string{"f.yaml": jwtRule(`{"keys":[{"kty":"EC","crv":"P-256","x":"abc"},{"kty":"OKP","crv":"Ed25519"}]}`)},
			[]string{
				`f.yaml:8:11: spec.jwtRules[0].jwks: key 0 has no "y"`,
				`f.yaml:8:11: spec.jwtRules[0].jwks: key 1 has no "x"`,
			}},
		{"private key", map[string]string{"f.yaml": jwtRule(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}]}`)},
			[]string{`f.yaml:8:11: spec.jwtRules[0].jwks: key 0 contains private key material ("d")`}},
		{"unusable key material", map[string]string{"f.yaml": jwtRule(`{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]}`)},
			[]string{`f.yaml:8:11: spec.jwtRules[0].jwks: key 0 cannot be used`}},
		{"jwks and jwksUri", map[string]string{"f.yaml": jwtRule(guideJWKS, "jwksUri: https://example.com/jwks")},
			[]string{`f.yaml:7:5: spec.jwtRules[0]: set either jwks or jwksUri, not both`}},
		{"jwksUri not http", map[string]string{"f.yaml": jwtRule("", "jwksUri: ftp://example.com/jwks")},
			[]string{`f.yaml:8:14: spec.jwtRules[0].jwksUri: "ftp://example.com/jwks" is not an http(s) URL`}},
		{"bad timeout", map[string]string{"f.yaml": jwtRule("", "timeout: 5 seconds")},
			[]string{`f.yaml:8:14: spec.jwtRules[0].timeout: "5 seconds" is not a positive duration`}},
		{"empty parameter name", map[string]string{"f.yaml": jwtRule("", "fromParams: ['']")},
			[]string{`f.yaml:8:18: spec.jwtRules[0].fromParams[0]: parameter name must not be empty`}},
		{"header names", map[string]string{"f.yaml": jwtRule("",
			`fromHeaders: [{name: "x bad"}, {name: ""}, {name: ":authority"}, {name: Host}]`,
			`outputPayloadToHeader: "x-payload\u00e9"`,
			`outputClaimToHeaders: [{header: "x bad", claim: sub}, {header: Transfer-Encoding, claim: sub}, {header: content-length, claim: sub}, {header: ":path", claim: sub}, {header: te, claim: sub}, {header: "", claim: sub}]`)},
			[]string{
				`f.yaml:8:26: spec.jwtRules[0].fromHeaders[0].name: "x bad" is not a valid HTTP header name`,
				`f.yaml:8:43: spec.jwtRules[0].fromHeaders[1].name: header name must not be empty`,
				`f.yaml:8:55: spec.jwtRules[0].fromHeaders[2].name: ":authority" is a pseudo-header`,
				`f.yaml:8:77: spec.jwtRules[0].fromHeaders[3].name: "Host" is reserved: Envoy keeps the host as :authority`,
				`f.yaml:9:28: spec.jwtRules[0].outputPayloadToHeader: "x-payloadé" is not a valid HTTP header name`,
				`f.yaml:10:37: spec.jwtRules[0].outputClaimToHeaders[0].header: "x bad" is not a valid HTTP header name`,
				`f.yaml:10:68: spec.jwtRules[0].outputClaimToHeaders[1].header: "Transfer-Encoding" is reserved: it frames the request body`,
				`f.yaml:10:109: spec.jwtRules[0].outputClaimToHeaders[2].header: "content-length" is reserved: it frames the request body`,
				`f.yaml:10:147: spec.jwtRules[0].outputClaimToHeaders[3].header: ":path" is a pseudo-header`,
				`f.yaml:10:178: spec.jwtRules[0].outputClaimToHeaders[4].header: "te" is reserved: it is a hop-by-hop header`,
				`f.yaml:10:204: spec.jwtRules[0].outputClaimToHeaders[5].header: header name must not be empty`,
			}},
	})
}

// TestValidateHeaderNamesAccepted loads the header names Istio's strict
// check accepts and the other RFC 7230 token characters.
func TestValidateHeaderNamesAccepted(t *testing.T) {
	set := mustLoad(t, writeTree(t, map[string]string{"f.yaml": inRoot(jwtRule(guideJWKS,
		`fromHeaders: [{name: X-Jwt-Assertion, prefix: "Bearer "}, {name: "x.token~1"}]`,
		`outputPayloadToHeader: X-JWT-Payload`,
		`outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}, {header: "x_jwt_role", claim: role}, {header: "x!#$%&'*+^`+"`"+`|", claim: a}]`))}))
	if len(set.RequestAuthentications) != 1 || len(set.Warnings) != 0 {
		t.Fatalf("got %d RequestAuthentications, warnings %q", len(set.RequestAuthentications), set.Warnings)
	}
}

// TestDuplicateIssuerAllowed: like istiod, two rules may name one issuer,
// in one document or in two; each stays its own rule.
func TestDuplicateIssuerAllowed(t *testing.T) {
	doc := jwtRule(guideJWKS, "fromHeaders: [{name: x-api-token}]") +
		"  - issuer: testing@asm.test.io\n    jwks: '" + guideJWKS + "'\n    outputClaimToHeaders: [{header: x-jwt-role, claim: role}]\n"
	other := strings.Replace(jwtRule(guideJWKS), "name: ra", "name: ra2", 1)
	set := mustLoad(t, writeTree(t, map[string]string{"a.yaml": doc, "b.yaml": other}))
	if len(set.RequestAuthentications) != 2 {
		t.Fatalf("got %d RequestAuthentications, want 2", len(set.RequestAuthentications))
	}
	rules := set.RequestAuthentications[0].Spec.JWTRules
	if len(rules) != 2 || rules[0].FromHeaders[0].Name != "x-api-token" || rules[1].OutputClaimToHeaders[0].Header != "x-jwt-role" {
		t.Fatalf("rules = %+v", rules)
	}
}

func TestValidateNetworking(t *testing.T) {
	runErrCases(t, []errCase{
		{"gateway without servers", map[string]string{"f.yaml": gwHead + "spec:\n  servers: []\n"},
			[]string{`f.yaml:6:12: spec.servers: a Gateway needs at least one server`}},
		{"gateway server problems", map[string]string{"f.yaml": gwHead + `spec:
  servers:
  - port: {number: 0, protocol: HTTP}
    hosts: []
  - port: {number: 443, protocol: HTTPS}
    hosts: [""]
  - port: {number: 70000, protocol: FTP}
    hosts: ["*"]
`}, []string{
			`f.yaml:7:20: spec.servers[0].port.number: port 0 is out of range 1-65535`,
			`f.yaml:8:12: spec.servers[0].hosts: a server needs at least one host`,
			`f.yaml:9:35: spec.servers[1].port.protocol: protocol HTTPS is not supported yet`,
			`f.yaml:10:13: spec.servers[1].hosts[0]: host must not be empty`,
			`f.yaml:11:20: spec.servers[2].port.number: port 70000 is out of range 1-65535`,
			`f.yaml:11:37: spec.servers[2].port.protocol: unknown protocol "FTP"`,
		}},
		{"virtual service problems", map[string]string{"f.yaml": vsHead + `spec:
  hosts: []
  gateways: [a/b/c]
  http:
  - match:
    - uri: {exact: /a, prefix: /b}
      headers:
        x-user: {regex: "("}
    route:
    - destination: {host: ""}
      weight: 60
    - destination: {host: b, port: {number: 80}}
      weight: -30
  - route:
    - destination: {host: c, port: {number: 80}}
    - destination: {host: d, port: {number: 80}}
      weight: 0
  - match:
    - method: {}
  - route:
    - {destination: {host: e, port: {number: 80}}, weight: 2147483647}
    - {destination: {host: f, port: {number: 80}}, weight: 2147483647}
    - {destination: {host: g, port: {number: 80}}, weight: 2}
`}, []string{
			`f.yaml:6:10: spec.hosts: a VirtualService needs at least one host`,
			`f.yaml:7:14: spec.gateways[0]: "a/b/c" is not a gateway reference`,
			`f.yaml:10:12: spec.http[0].match[0].uri: set exactly one of exact, prefix or regex (found 2)`,
			`f.yaml:12:25: spec.http[0].match[0].headers.x-user.regex: invalid regular expression (RE2)`,
			`f.yaml:14:20: spec.http[0].route[0].destination: destination port is required: jwtgate has no service registry`,
			`f.yaml:14:27: spec.http[0].route[0].destination.host: destination host must not be empty`,
			`f.yaml:17:15: spec.http[0].route[1].weight: weight -30 must not be negative`,
			`f.yaml:19:5: spec.http[1].route: the weights of 2 destinations sum to 0: give at least one a positive weight`,
			`f.yaml:22:5: spec.http[2].route: an http rule needs at least one route destination`,
			`f.yaml:23:15: spec.http[2].match[0].method: set exactly one of exact, prefix or regex (found 0)`,
			`f.yaml:25:5: spec.http[3].route: the weights sum to 4294967296, more than Envoy accepts (4294967295)`,
		}},
		{"gateway server hosts", map[string]string{"f.yaml": gwHead + `spec:
  servers:
  - port: {number: 80, protocol: HTTP}
    hosts:
    - a.example.com/
    - /a.example.com
    - Bad_NS/a.example.com
    - ./a.*.example.com
    - "*/foo*.example.com"
    - ns/localhost
    - a..example.com
    - 1.2.3
    - "*."
    - a/b/c.example.com
    - ns/-a.example.com
`}, []string{
			`f.yaml:9:7: spec.servers[0].hosts[0]: "a.example.com/": namespace and host around '/' must not be empty`,
			`f.yaml:10:7: spec.servers[0].hosts[1]: "/a.example.com": namespace and host around '/' must not be empty`,
			`f.yaml:11:7: spec.servers[0].hosts[2]: "Bad_NS/a.example.com": "Bad_NS" is not a namespace`,
			`f.yaml:12:7: spec.servers[0].hosts[3]: "./a.*.example.com": partial wildcard`,
			`f.yaml:13:7: spec.servers[0].hosts[4]: "*/foo*.example.com": partial wildcard`,
			`f.yaml:14:7: spec.servers[0].hosts[5]: "ns/localhost": short names are not allowed`,
			`f.yaml:15:7: spec.servers[0].hosts[6]: "a..example.com": "" is not a valid DNS label`,
			`f.yaml:16:7: spec.servers[0].hosts[7]: "1.2.3": top-level domain "3" must not be all digits`,
			`f.yaml:17:7: spec.servers[0].hosts[8]: "*.": "" is not a valid DNS label`,
			`f.yaml:18:7: spec.servers[0].hosts[9]: "a/b/c.example.com": "b/c" is not a valid DNS label`,
			`f.yaml:19:7: spec.servers[0].hosts[10]: "ns/-a.example.com": "-a" is not a valid DNS label`,
		}},
		{"bad names", map[string]string{"f.yaml": "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: My_GW\n  namespace: a.b\nspec:\n  servers:\n  - port: {number: 80, protocol: HTTP}\n    hosts: ['*']\n"},
			[]string{
				`f.yaml:4:9: metadata.name: "My_GW" is not a valid name`,
				`f.yaml:5:14: metadata.namespace: "a.b" is not a valid namespace`,
			}},
	})
}

func TestValidateAuthorizationPolicy(t *testing.T) {
	runErrCases(t, []errCase{
		{"custom action", map[string]string{"f.yaml": apHead + "spec:\n  action: CUSTOM\n  rules: [{}]\n"},
			[]string{`f.yaml:6:11: spec.action: action CUSTOM (ext_authz) is not supported`}},
		{"unknown action", map[string]string{"f.yaml": apHead + "spec:\n  action: allow\n"},
			[]string{`f.yaml:6:11: spec.action: unknown action "allow": use ALLOW, DENY or AUDIT`}},
		{"deny and audit without rules", map[string]string{
			"a.yaml": apHead + "spec:\n  action: DENY\n",
			"b.yaml": apHead + "  namespace: other\nspec:\n  action: AUDIT\n  rules: []\n",
		}, []string{
			`a.yaml:6:3: spec.rules: a DENY policy needs at least one rule`,
			`b.yaml:8:10: spec.rules: a AUDIT policy needs at least one rule`,
		}},
		{"rule problems", map[string]string{"f.yaml": apHead + `  annotations: {istio.io/dry-run: "maybe"}
spec:
  rules:
  - from:
    - source: {}
    - source: {ipBlocks: [1.2.3, 10.0.0.0/8], remoteIpBlocks: ["::1/200"], requestPrincipals: ["a*b", "*x*"]}
    to:
    - operation: {}
    - operation: {ports: ["http", "80"], paths: ["/a*b", "*", "/x*", "*.png", ""], methods: [""]}
    when:
    - key: request.auth.claims[groups]
    - key: destination.ip
      values: [a, 10.0.0.1, 10.0.0.0/8]
    - key: remote.ip
      values: [nope]
    - key: destination.port
      notValues: ["99999"]
    - key: request.headers[]
      values: [a]
`}, []string{
			`f.yaml:5:35: metadata.annotations[istio.io/dry-run]: must be "true" or "false", got "maybe"`,
			`f.yaml:9:15: spec.rules[0].from[0].source: source must not be empty`,
			`f.yaml:10:27: spec.rules[0].from[1].source.ipBlocks[0]: "1.2.3" is not an IP address or CIDR block`,
			`f.yaml:10:64: spec.rules[0].from[1].source.remoteIpBlocks[0]: "::1/200" is not an IP address or CIDR block`,
			`f.yaml:10:96: spec.rules[0].from[1].source.requestPrincipals[0]: "a*b": '*' is only allowed alone`,
			`f.yaml:10:103: spec.rules[0].from[1].source.requestPrincipals[1]: "*x*": '*' may be used as a prefix or a suffix, not both`,
			`f.yaml:12:18: spec.rules[0].to[0].operation: operation must not be empty`,
			`f.yaml:13:27: spec.rules[0].to[1].operation.ports[0]: "http" is not a port number`,
			`f.yaml:13:50: spec.rules[0].to[1].operation.paths[0]: "/a*b": '*' is only allowed alone`,
			`f.yaml:13:79: spec.rules[0].to[1].operation.paths[4]: value must not be empty`,
			`f.yaml:13:94: spec.rules[0].to[1].operation.methods[0]: method must not be empty`,
			`f.yaml:15:7: spec.rules[0].when[0]: a condition needs values or notValues`,
			`f.yaml:17:16: spec.rules[0].when[1].values[0]: "a" is not an IP address or CIDR block`,
			`f.yaml:19:16: spec.rules[0].when[2].values[0]: "nope" is not an IP address or CIDR block`,
			`f.yaml:21:19: spec.rules[0].when[3].notValues[0]: "99999" is not a port number`,
			`f.yaml:22:12: spec.rules[0].when[4].key: unsupported key "request.headers[]"`,
		}},
	})
}

// TestValidateAcceptsIstioForms loads forms that istiod accepts and that
// jwtgate used to reject or never checked.
func TestValidateAcceptsIstioForms(t *testing.T) {
	files := map[string]string{
		"gw.yaml": gwHead + `  namespace: istio-system
spec:
  servers:
  - port: {number: 80, protocol: HTTP}
    hosts: ["*", "*/*", "./*", "*.example.com", "./admin.example.com", "default/api.example.com",
      "*/www.example.com", "ns-1/*.example.org", "Mixed.Example.COM", "trailing.dot.example.com.", "10.0.0.1", "::1"]
`,
		// Weights are relative: 550+500, 49+50, a zero beside a positive
		// one, and a lone destination with weight 0 are all valid.
		"vs.yaml": vsHead + `spec:
  hosts: ["*"]
  gateways: [istio-system/gw, mesh]
  http:
  - route:
    - {destination: {host: a, port: {number: 80}}, weight: 550}
    - {destination: {host: b, port: {number: 80}}, weight: 500}
  - route:
    - {destination: {host: a, port: {number: 80}}, weight: 49}
    - {destination: {host: b, port: {number: 80}}, weight: 50}
  - route:
    - {destination: {host: a, port: {number: 80}}, weight: 0}
    - {destination: {host: b, port: {number: 80}}, weight: 1}
  - route:
    - {destination: {host: a, port: {number: 80}}, weight: 0}
`,
		"ap.yaml": inRoot(apHead) + `  annotations: {istio.io/dry-run: "1"}
spec:
  rules:
  - when:
    - key: destination.ip
      values: [10.0.0.0/8]
      notValues: ["::1"]
`,
	}
	set := mustLoad(t, writeTree(t, files))
	if len(set.Gateways) != 1 || len(set.VirtualServices) != 1 || len(set.AuthorizationPolicies) != 1 {
		t.Fatalf("counts = %d/%d/%d", len(set.Gateways), len(set.VirtualServices), len(set.AuthorizationPolicies))
	}
	if !set.AuthorizationPolicies[0].DryRun() {
		t.Errorf("istio.io/dry-run: \"1\" is not dry-run")
	}
	if len(set.Warnings) != 0 {
		t.Errorf("warnings = %q", set.Warnings)
	}
}

func TestDryRun(t *testing.T) {
	for _, tc := range []struct {
		value string
		set   bool
		want  bool
	}{
		{"", false, false},
		{"true", true, true}, {"True", true, true}, {"TRUE", true, true}, {"1", true, true}, {"t", true, true}, {"T", true, true},
		{"false", true, false}, {"0", true, false}, {"f", true, false}, {"F", true, false}, {"FALSE", true, false},
		{"yes", true, false}, {"tRuE", true, false}, {"", true, false},
	} {
		p := &AuthorizationPolicy{}
		if tc.set {
			p.Metadata.Annotations = map[string]string{AnnotationDryRun: tc.value}
		}
		if got := p.DryRun(); got != tc.want {
			t.Errorf("DryRun() with annotation %q (set %v) = %v, want %v", tc.value, tc.set, got, tc.want)
		}
	}
}

func TestValidateWarnings(t *testing.T) {
	set := mustLoad(t, writeTree(t, map[string]string{"p/f.yaml": inRoot(apHead) + `spec:
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/a/sa/b"], namespaces: [a]}
    when:
    - key: source.namespace
      values: [a]
  - {}
`}))
	want := []string{
		"/p/f.yaml:9: spec.rules[0].from[0].source.principals: never matches at a plaintext ingress",
		"/p/f.yaml:9: spec.rules[0].from[0].source.namespaces: never matches",
		"/p/f.yaml:11: spec.rules[0].when[0].key: source.namespace never matches",
	}
	if len(set.Warnings) != len(want) {
		t.Fatalf("warnings = %q", set.Warnings)
	}
	for i, w := range want {
		if !strings.Contains(set.Warnings[i], w) {
			t.Errorf("warning %d = %q, want it to contain %q", i, set.Warnings[i], w)
		}
	}
}

func TestDuplicateAcrossFiles(t *testing.T) {
	doc := apHead + "  namespace: istio-system\nspec: {}\n"
	got := loadErrors(t, writeTree(t, map[string]string{"a.yaml": doc, "sub/b.yaml": "# moved\n" + doc}))
	if len(got) != 1 || !strings.HasPrefix(got[0], "sub/b.yaml:5:9: metadata.name: duplicate AuthorizationPolicy istio-system/ap: also defined at ") ||
		!strings.HasSuffix(got[0], "/a.yaml:1") {
		t.Fatalf("got %q", got)
	}
}

// wantWarnings checks that set has exactly the warnings in want, in order,
// each given as a substring ("/file:line: field: message prefix").
func wantWarnings(t *testing.T, set *Set, want []string) {
	t.Helper()
	if len(set.Warnings) != len(want) {
		t.Fatalf("got %d warnings, want %d:\n%s", len(set.Warnings), len(want), strings.Join(set.Warnings, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(set.Warnings[i], w) {
			t.Errorf("warning %d:\n got %s\nwant it to contain %s", i, set.Warnings[i], w)
		}
	}
}

func TestValidateWarningsHostsHeadersRegex(t *testing.T) {
	set := mustLoad(t, writeTree(t, map[string]string{
		"deny.yaml": inRoot(apHead) + `spec:
  action: DENY
  rules:
  - to:
    - operation:
        hosts: [a.com, b.com, "B.com:*", "*.c.com", "d.com:8080", "e.com*", "*.f.com", "*.f.com:8080", "*"]
        notHosts: [g.com]
`,
		"allow.yaml": inRoot(strings.Replace(apHead, "name: ap", "name: allow", 1)) + `spec:
  rules:
  - to:
    - operation: {hosts: [h.com], notHosts: [i.com, "j.com:*"]}
`,
		"audit.yaml": inRoot(strings.Replace(apHead, "name: ap", "name: audit", 1)) + `spec:
  action: AUDIT
  rules:
  - to:
    - operation: {hosts: [k.com], notHosts: [l.com]}
`,
		"ra.yaml": inRoot(jwtRule(guideJWKS, "fromHeaders: [{name: x_token}, {name: x-token}]")),
		"gw.yaml": okGateway,
		"vs.yaml": vsHead + `spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - match:
    - uri: {regex: "/Admin/.*"}
      ignoreUriCase: true
    - uri: {prefix: /admin}
      ignoreUriCase: true
    - uri: {regex: "(?i)/admin/.*"}
    route:
    - destination: {host: a, port: {number: 80}}
`,
	}))
	wantWarnings(t, set, []string{
		`/allow.yaml:9: spec.rules[0].to[0].operation.notHosts[0]: "i.com" does not match "i.com:8080"`,
		`/deny.yaml:11: spec.rules[0].to[0].operation.hosts[0]: "a.com" does not match "a.com:8080": the :authority carries the port unless it is the default; also list "a.com:*"`,
		`/deny.yaml:11: spec.rules[0].to[0].operation.hosts[3]: "*.c.com" does not match "x.c.com:8080": the :authority carries the port unless it is the default; also list "*.c.com:PORT" for each port clients use`,
		`/deny.yaml:12: spec.rules[0].to[0].operation.notHosts[0]: "g.com" does not match "g.com:8080"`,
		`/ra.yaml:10: spec.jwtRules[0].fromHeaders[0].name: "x_token" contains '_': the listener rejects requests with such header names (400`,
		`/vs.yaml:11: spec.http[0].match[0].ignoreUriCase: has no effect on a uri regex (Envoy ignores case_sensitive for regex routes); write the regex case-insensitively with (?i)`,
	})
}

func TestValidateWarningsNoRequestAuthentication(t *testing.T) {
	files := map[string]string{
		"allow.yaml": inRoot(apHead) + `spec:
  rules:
  - from:
    - source: {requestPrincipals: ["*"]}
    - source: {notRequestPrincipals: ["a/b"], ipBlocks: [10.0.0.0/8]}
    when:
    - key: request.auth.claims[groups]
      values: [admin]
    - key: request.auth.audiences
      notValues: [x]
    - key: request.headers[x-a]
      values: [b]
`,
		"deny.yaml": inRoot(strings.Replace(apHead, "name: ap", "name: deny", 1)) + `spec:
  action: DENY
  rules:
  - from:
    - source: {requestPrincipals: ["a/b"]}
`,
	}
	set := mustLoad(t, writeTree(t, files))
	const why = "no RequestAuthentication in the tree: requests can never carry a verified token, so "
	wantWarnings(t, set, []string{
		"/allow.yaml:9: spec.rules[0].from[0].source.requestPrincipals: " + why + "requestPrincipals never match: requests only this rule allows are refused, even with a valid token",
		"/allow.yaml:10: spec.rules[0].from[1].source.notRequestPrincipals: " + why + "notRequestPrincipals always match",
		"/allow.yaml:12: spec.rules[0].when[0].key: " + why + "request.auth.claims[groups] never matches: requests only this rule allows are refused",
		"/allow.yaml:14: spec.rules[0].when[1].key: " + why + "request.auth.audiences notValues always match",
		"/deny.yaml:10: spec.rules[0].from[0].source.requestPrincipals: " + why + "requestPrincipals never match: this DENY rule never fires",
	})

	// A RequestAuthentication anywhere in the tree silences them.
	files["ra.yaml"] = inRoot(jwtRule(guideJWKS))
	wantWarnings(t, mustLoad(t, writeTree(t, files)), []string{
		// now the issuer check applies: "a" is no jwtRule's issuer
		`/allow.yaml:10: spec.rules[0].from[1].source.notRequestPrincipals[0]: "a/b": issuer "a" is not the issuer of any jwtRule in the tree (testing@asm.test.io)`,
		`/deny.yaml:10: spec.rules[0].from[0].source.requestPrincipals[0]: "a/b": issuer "a" is not the issuer of any jwtRule in the tree (testing@asm.test.io)`,
	})
}
