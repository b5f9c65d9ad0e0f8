package policies

import (
	"strings"
	"testing"
)

// errCase is a tree whose Load must fail with exactly the listed errors,
// each given as "file:line:col: field: message" (message may be a prefix).
type errCase struct {
	name  string
	files map[string]string
	want  []string
}

func runErrCases(t *testing.T, cases []errCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := loadErrors(t, writeTree(t, tc.files))
			if len(got) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("error %d:\n got %s\nwant %s...", i, got[i], w)
				}
			}
		})
	}
}

const gwHead = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: gw\n"
const raHead = "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata:\n  name: ra\n"

func TestDecodeErrors(t *testing.T) {
	runErrCases(t, []errCase{
		{"unknown field in nested list", map[string]string{"f.yaml": raHead + `spec:
  jwtRules:
  - issuer: x
    fromHeaders:
    - name: a
    - nme: b
`}, []string{
			// one error: the typo is not also reported as a missing "name"
			`f.yaml:10:7: spec.jwtRules[0].fromHeaders[1].nme: unknown field "nme": did you mean "name"? Allowed fields: name, prefix`,
		}},
		{"typo of a required field", map[string]string{"f.yaml": raHead + "spec:\n  jwtRules:\n  - issuers: x\n"},
			[]string{`f.yaml:7:5: spec.jwtRules[0].issuers: unknown field "issuers": did you mean "issuer"? Allowed fields: issuer, audiences,`}},
		{"typo differs by case", map[string]string{"f.yaml": raHead + "spec:\n  jwtRules:\n  - issuer: x\n    jwksURI: https://example.com/jwks\n"},
			[]string{`f.yaml:8:5: spec.jwtRules[0].jwksURI: unknown field "jwksURI": did you mean "jwksUri"? Allowed fields:`}},
		{"transposed letters", map[string]string{"f.yaml": raHead + "spec:\n  jwtRules:\n  - issuer: x\n    audeinces: [a]\n"},
			[]string{`f.yaml:8:5: spec.jwtRules[0].audeinces: unknown field "audeinces": did you mean "audiences"?`}},
		{"no suggestion when nothing is close", map[string]string{"f.yaml": raHead + "spec:\n  jwtRules:\n  - issuer: x\n    fromHeaders: [{name: a, foo: b}]\n"},
			[]string{`f.yaml:8:29: spec.jwtRules[0].fromHeaders[0].foo: unknown field "foo"; allowed fields: name, prefix`}},
		{"metadata typo", map[string]string{"f.yaml": gwHead + "  namspace: x\nspec:\n  servers:\n  - port: {number: 80, protocol: HTTP}\n    hosts: ['*']\n"},
			[]string{`f.yaml:5:3: metadata.namspace: unknown field "namspace": did you mean "namespace"? jwtgate reads only name, namespace, labels and annotations of metadata`}},
		{"typo of a required field at the top", map[string]string{"f.yaml": gwHead + "spc:\n  servers: []\n"},
			[]string{`f.yaml:5:1: spc: unknown field "spc": did you mean "spec"?`}},
		{"custom with provider", map[string]string{"f.yaml": apHead + "spec:\n  selector:\n    matchLabels: {istio: ingressgateway}\n  action: CUSTOM\n  provider:\n    name: my-ext-authz\n  rules:\n  - to:\n    - operation: {paths: [/admin]}\n"},
			[]string{`f.yaml:8:11: spec.action: action CUSTOM (ext_authz) is not supported: jwtgate has no external authorizer; use ALLOW, DENY or AUDIT rules`}},
		{"provider without custom", map[string]string{"f.yaml": apHead + "spec:\n  provider:\n    name: my-ext-authz\n"},
			[]string{`f.yaml:6:3: spec.provider: unknown field "provider": provider belongs to action CUSTOM (ext_authz), which jwtgate does not support`}},
		{"string where list expected", map[string]string{"f.yaml": "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs\nspec:\n  hosts: example.com\n"},
			[]string{`f.yaml:6:10: spec.hosts: expected a list, got "example.com"`}},
		{"text for a port number", map[string]string{"f.yaml": gwHead + "spec:\n  servers:\n  - port: {number: abc, protocol: HTTP}\n    hosts: ['*']\n"},
			[]string{`f.yaml:7:20: spec.servers[0].port.number: expected an integer, got "abc"`}},
		{"quoted number is a string", map[string]string{"f.yaml": gwHead + "spec:\n  servers:\n  - port: {number: '80', protocol: HTTP}\n    hosts: ['*']\n"},
			[]string{`f.yaml:7:20: spec.servers[0].port.number: expected an integer, got "80"`}},
		{"number out of range", map[string]string{"f.yaml": gwHead + "spec:\n  servers:\n  - port: {number: -1, protocol: HTTP}\n    hosts: ['*']\n"},
			[]string{`f.yaml:7:20: spec.servers[0].port.number: integer -1 is out of range`}},
		{"mapping where string expected", map[string]string{"f.yaml": raHead + "spec:\n  jwtRules:\n  - issuer: {a: b}\n"},
			[]string{`f.yaml:7:13: spec.jwtRules[0].issuer: expected a string, got a mapping`}},
		{"bool expected", map[string]string{"f.yaml": raHead + "spec:\n  jwtRules:\n  - issuer: x\n    forwardOriginalToken: maybe\n"},
			[]string{`f.yaml:8:27: spec.jwtRules[0].forwardOriginalToken: expected true or false, got "maybe"`}},
		{"duplicate key", map[string]string{"f.yaml": gwHead + "  name: gw2\nspec:\n  servers:\n  - port: {number: 80, protocol: HTTP}\n    hosts: ['*']\n"},
			[]string{`f.yaml:5:3: metadata.name: duplicate key "name" (first at line 4)`}},
		{"duplicate map key", map[string]string{"f.yaml": gwHead + "spec:\n  selector:\n    istio: a\n    istio: b\n  servers:\n  - port: {number: 80, protocol: HTTP}\n    hosts: ['*']\n"},
			[]string{`f.yaml:8:5: spec.selector.istio: duplicate key "istio" (first at line 7)`}},
		{"missing required field", map[string]string{"f.yaml": gwHead + "spec:\n  servers:\n  - hosts: ['*']\n"},
			[]string{`f.yaml:7:5: spec.servers[0].port: missing required field "port"`}},
		{"null required field", map[string]string{"f.yaml": raHead + "spec:\n  jwtRules:\n  - issuer:\n"},
			[]string{`f.yaml:7:12: spec.jwtRules[0].issuer: required field "issuer" must not be empty`}},
		{"missing spec", map[string]string{"f.yaml": gwHead},
			[]string{`f.yaml:1:1: spec: missing required field "spec"`}},
		{"metadata is strict", map[string]string{"f.yaml": gwHead + "  uid: abc\nspec:\n  servers:\n  - port: {number: 80, protocol: HTTP}\n    hosts: ['*']\n"},
			[]string{`f.yaml:5:3: metadata.uid: unknown field "uid": jwtgate reads only name, namespace, labels and annotations of metadata`}},
		{"missing name", map[string]string{"f.yaml": "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  namespace: foo\nspec: {}\n"},
			[]string{`f.yaml:4:3: metadata.name: missing required field "name"`}},
		{"unknown kind", map[string]string{"f.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: httpbin\n"},
			[]string{`f.yaml:2:7: kind: unknown kind "Service" (apiVersion "v1"); jwtgate reads Gateway and VirtualService`}},
		{"unsupported apiVersion", map[string]string{"f.yaml": "apiVersion: security.istio.io/v1alpha1\nkind: AuthorizationPolicy\nmetadata:\n  name: ap\nspec: {}\n"},
			[]string{`f.yaml:1:13: apiVersion: apiVersion "security.istio.io/v1alpha1" is not supported for kind AuthorizationPolicy; use security.istio.io/v1, security.istio.io/v1beta1`}},
		{"missing kind", map[string]string{"f.yaml": "apiVersion: v1\nmetadata:\n  name: x\n"},
			[]string{`f.yaml:1:1: kind: missing required field "kind"`}},
		{"document is not a mapping", map[string]string{"f.yaml": "- a\n- b\n"},
			[]string{`f.yaml:1:1: a document must be a mapping`}},
		{"syntax error", map[string]string{"f.yaml": gwHead + "spec:\n  servers: [\n"},
			[]string{`f.yaml:`}},
		{"error in second document of a file", map[string]string{"f.yaml": "---\n# empty\n---\n" + gwHead +
			"spec:\n  servers:\n  - port: {number: 80, protocol: HTTP}\n    hosts: ['*']\n---\n" + raHead + "spec:\n  jwtRules:\n  - issuer: x\n    audience: [a]\n"},
			[]string{`f.yaml:20:5: spec.jwtRules[0].audience: unknown field "audience": did you mean "audiences"? Allowed fields: issuer, audiences, jwksUri, jwks, fromHeaders`}},
		{"errors from several files, sorted", map[string]string{
			"b.yaml":       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
			"a/c.yml":      raHead + "spec:\n  jwtRules: {}\n",
			"z.txt":        "not read",
			"a/ok.yaml":    gwHead + "spec:\n  servers:\n  - port: {number: 80, protocol: HTTP}\n    hosts: ['*']\n",
			".hidden.yaml": "broken: [",
		}, []string{
			`a/c.yml:6:13: spec.jwtRules: expected a list, got a mapping`,
			`b.yaml:2:7: kind: unknown kind "ConfigMap"`,
		}},
	})
}

func TestDecodeSyntaxErrorNamesLine(t *testing.T) {
	got := loadErrors(t, writeTree(t, map[string]string{"f.yaml": "a: 1\n  b: 2\n"}))
	if len(got) != 1 || !strings.HasPrefix(got[0], "f.yaml:2: invalid YAML: mapping values are not allowed") {
		t.Fatalf("got %q", got)
	}
}

func TestDecodeTabs(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"tab indents a mapping", gwHead + "spec:\n\tservers: []\n",
			"f.yaml:6:1: invalid YAML: tabs are not allowed for indentation in YAML (line 6): indent with spaces; parser said: found character that cannot start any token (line 6)"},
		{"tab after spaces", gwHead + "spec:\n  servers:\n  - port: {number: 80, protocol: HTTP}\n  \thosts: ['*']\n",
			"f.yaml:8:3: invalid YAML: tabs are not allowed for indentation in YAML (line 8): indent with spaces; parser said: found character that cannot start any token (line 8)"},
		{"tab in a block scalar", gwHead + "  annotations:\n    note: |\n      \ta\nspec: {}\n",
			"f.yaml:7:7: invalid YAML: tabs are not allowed for indentation in YAML (line 7): indent with spaces; parser said: found a tab character where an indentation space is expected (line 6)"},
		// JSON may indent with tabs: another error does not blame them.
		{"json with tabs and a missing comma", "{\n\t\"apiVersion\": \"v1\"\n\t\"kind\": \"Gateway\"\n}\n",
			"f.yaml:2: invalid YAML: did not find expected ',' or '}'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := loadErrors(t, writeTree(t, map[string]string{"f.yaml": tc.doc}))
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Fatalf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestDecodeLenient(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"multi.yaml": `# leading comment
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: gw, labels: {app.kubernetes.io/name: gw}}
spec:
  servers:
  - port: {number: 8080, protocol: http}
    hosts: ["*"]
status:
  conditions: [whatever]
---
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-admin
  namespace: istio-system
  annotations: {istio.io/dry-run: "true"}
spec:
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/admin*"], ports: ["80"]}
    when:
    - key: request.auth.claims[groups][0]
      values: [ops]
`,
	})
	set := mustLoad(t, dir)
	if len(set.Gateways) != 1 || len(set.AuthorizationPolicies) != 1 {
		t.Fatalf("set = %+v", set)
	}
	gw := set.Gateways[0]
	if gw.Metadata.Namespace != "default" {
		t.Errorf("namespace = %q, want default", gw.Metadata.Namespace)
	}
	if gw.Spec.Servers[0].Port.Protocol != "HTTP" {
		t.Errorf("protocol = %q, want normalized HTTP", gw.Spec.Servers[0].Port.Protocol)
	}
	if gw.Origin.Line != 3 {
		t.Errorf("origin line = %d, want 3", gw.Origin.Line)
	}
	ap := set.AuthorizationPolicies[0]
	if ap.Origin.Line != 14 || ap.Metadata.Annotations[AnnotationDryRun] != "true" {
		t.Errorf("policy = %+v", ap)
	}
}
