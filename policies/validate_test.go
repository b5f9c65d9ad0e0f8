package policies

import (
	"strings"
	"testing"
)

const (
	vsHead = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs\n"
	apHead = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: ap\n"
)

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
		{"duplicate issuer", map[string]string{"f.yaml": jwtRule("", "fromParams: ['']") + "  - issuer: testing@asm.test.io\n"},
			[]string{
				`f.yaml:8:18: spec.jwtRules[0].fromParams[0]: parameter name must not be empty`,
				`f.yaml:9:13: spec.jwtRules[1].issuer: issuer "testing@asm.test.io" is already configured by jwtRules[0]`,
			}},
	})
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
      weight: 30
  - route:
    - destination: {host: c, port: {number: 80}}
      weight: 150
  - match:
    - method: {}
`}, []string{
			`f.yaml:6:10: spec.hosts: a VirtualService needs at least one host`,
			`f.yaml:7:14: spec.gateways[0]: "a/b/c" is not a gateway reference`,
			`f.yaml:10:12: spec.http[0].match[0].uri: set exactly one of exact, prefix or regex (found 2)`,
			`f.yaml:12:25: spec.http[0].match[0].headers.x-user.regex: invalid regular expression (RE2)`,
			`f.yaml:14:5: spec.http[0].route: weights of 2 destinations sum to 90, they must sum to 100`,
			`f.yaml:14:20: spec.http[0].route[0].destination: destination port is required: jwtgate has no service registry`,
			`f.yaml:14:27: spec.http[0].route[0].destination.host: destination host must not be empty`,
			`f.yaml:20:15: spec.http[1].route[0].weight: weight 150 is out of range 0-100`,
			`f.yaml:21:5: spec.http[2].route: an http rule needs at least one route destination`,
			`f.yaml:22:15: spec.http[2].match[0].method: set exactly one of exact, prefix or regex (found 0)`,
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
			[]string{`f.yaml:6:11: spec.action: CUSTOM (ext_authz) is not supported`}},
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
      values: [a]
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
			`f.yaml:16:12: spec.rules[0].when[1].key: unsupported key "destination.ip"; valid keys: request.headers[NAME]`,
			`f.yaml:19:16: spec.rules[0].when[2].values[0]: "nope" is not an IP address or CIDR block`,
			`f.yaml:21:19: spec.rules[0].when[3].notValues[0]: "99999" is not a port number`,
			`f.yaml:22:12: spec.rules[0].when[4].key: unsupported key "request.headers[]"`,
		}},
	})
}

func TestValidateWarnings(t *testing.T) {
	set := mustLoad(t, writeTree(t, map[string]string{"p/f.yaml": apHead + `spec:
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/a/sa/b"], namespaces: [a]}
    when:
    - key: source.namespace
      values: [a]
  - {}
`}))
	want := []string{
		"/p/f.yaml:8: spec.rules[0].from[0].source.principals: never matches at a plaintext ingress",
		"/p/f.yaml:8: spec.rules[0].from[0].source.namespaces: never matches",
		"/p/f.yaml:10: spec.rules[0].when[0].key: source.namespace never matches",
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
