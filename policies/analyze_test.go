package policies

import (
	"strings"
	"testing"
)

const ingressGateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: httpbin-gateway
  namespace: default
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, protocol: HTTP}
    hosts: ['*']
`

// named renames the first document of doc from "name: ap" (or ra, vs) to name.
func named(doc, from, to string) string {
	return strings.Replace(doc, "name: "+from+"\n", "name: "+to+"\n", 1)
}

// TestAnalyzeWarnings: documents that are valid but do nothing in this
// tree (the gate stays open or a route is never served) get a warning
// naming file, line, field, the problem and the fix; the same trees
// without the mistake get none.
func TestAnalyzeWarnings(t *testing.T) {
	rootRA := inRoot(jwtRule(guideJWKS)) // issuer testing@asm.test.io
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"security policy without namespace", map[string]string{
			"ra.yaml":    jwtRule(guideJWKS),
			"ap.yaml":    apHead + "spec: {}\n",
			"other.yaml": named(apHead, "ap", "other") + "  namespace: other\nspec: {}\n",
			"dflt.yaml":  named(apHead, "ap", "dflt") + "  namespace: default\nspec: {}\n",
			"gw.yaml":    okGateway,
		}, []string{
			`/ap.yaml:4: metadata.namespace: no namespace: assuming "default"; this AuthorizationPolicy applies only to gateways in namespace default (policies in the root namespace istio-system apply to every gateway): add "namespace: istio-system" to metadata`,
			`/ra.yaml:4: metadata.namespace: no namespace: assuming "default"; this RequestAuthentication applies only to gateways in namespace default`,
		}},
		{"selector matches no Gateway selector", map[string]string{
			"gw.yaml":  ingressGateway,
			"gw2.yaml": strings.Replace(named(ingressGateway, "httpbin-gateway", "b"), "{istio: ingressgateway}", "{app: b, istio: b-gw}", 1),
			"ra.yaml": inRoot(raHead) + "spec:\n  selector:\n    matchLabels: {istio: ingressgateway}\n" +
				"  jwtRules:\n  - issuer: testing@asm.test.io\n    jwks: '" + guideJWKS + "'\n",
			"typo.yaml":    inRoot(apHead) + "spec:\n  selector:\n    matchLabels: {istio: ingress-gateway}\n  rules: [{}]\n",
			"partial.yaml": inRoot(named(apHead, "ap", "partial")) + "spec:\n  selector:\n    matchLabels: {istio: b-gw}\n  rules: [{}]\n",
			"extra.yaml":   inRoot(named(apHead, "ap", "extra")) + "spec:\n  selector:\n    matchLabels: {istio: b-gw, app: c}\n  rules: [{}]\n",
			"empty.yaml":   inRoot(named(apHead, "ap", "empty")) + "spec:\n  selector: {}\n  rules: [{}]\n",
		}, []string{
			`/extra.yaml:8: spec.selector.matchLabels: {app: c, istio: b-gw} is not part of any Gateway's selector in the tree ({app: b, istio: b-gw}; {istio: ingressgateway})`,
			`/typo.yaml:8: spec.selector.matchLabels: {istio: ingress-gateway} is not part of any Gateway's selector in the tree ({app: b, istio: b-gw}; {istio: ingressgateway}): unless an Envoy's node.metadata.labels carry these labels, this AuthorizationPolicy applies to no gateway; use a Gateway's selector labels or remove the selector`,
		}},
		{"selector without Gateways to compare", map[string]string{
			"typo.yaml": inRoot(apHead) + "spec:\n  selector:\n    matchLabels: {istio: ingress-gateway}\n  rules: [{}]\n",
		}, nil},
		{"selector and a Gateway that selects every Envoy", map[string]string{
			"gw.yaml":   ingressGateway,
			"all.yaml":  named(okGateway, "gw", "all"),
			"typo.yaml": inRoot(apHead) + "spec:\n  selector:\n    matchLabels: {istio: ingress-gateway}\n  rules: [{}]\n",
		}, nil},
		{"VirtualService gateway references", map[string]string{
			"gw.yaml":    ingressGateway,
			"other.yaml": strings.Replace(named(ingressGateway, "httpbin-gateway", "edge"), "namespace: default", "namespace: istio-system", 1),
			"vs.yaml":    vsHead + "spec:\n  hosts: ['*']\n  gateways: [httpbin-gatway, other/httpbin-gateway, default/httpbin-gateway, mesh, nope, edge]\n",
			"mesh.yaml":  named(vsHead, "vs", "mesh") + "spec:\n  hosts: ['*']\n  gateways: [mesh]\n",
			"none.yaml":  named(vsHead, "vs", "none") + "spec:\n  hosts: ['*']\n",
			"ok.yaml":    named(vsHead, "vs", "ok") + "spec:\n  hosts: ['*']\n  gateways: [httpbin-gateway, istio-system/edge]\n",
		}, []string{
			`/mesh.yaml:7: spec.gateways: this VirtualService is bound only to the mesh (no gateways, or only "mesh"), which jwtgate does not serve: its routes are never used; list the Gateway, e.g. gateways: [NAME]`,
			`/none.yaml:6: spec.gateways: this VirtualService is bound only to the mesh`,
			`/vs.yaml:7: spec.gateways[0]: referenced gateway not found: "default/httpbin-gatway" (istioctl analyze IST0101): these routes serve no Gateway; did you mean "httpbin-gateway"?`,
			`/vs.yaml:7: spec.gateways[1]: referenced gateway not found: "other/httpbin-gateway" (istioctl analyze IST0101): these routes serve no Gateway; did you mean "default/httpbin-gateway"?`,
			`/vs.yaml:7: spec.gateways[4]: referenced gateway not found: "default/nope" (istioctl analyze IST0101): these routes serve no Gateway; Gateways in the tree: default/httpbin-gateway, istio-system/edge`,
			`/vs.yaml:7: spec.gateways[5]: referenced gateway not found: "default/edge" (istioctl analyze IST0101): these routes serve no Gateway; did you mean "istio-system/edge"?`,
		}},
		{"requestPrincipals issuers", map[string]string{
			"ra.yaml": rootRA,
			"ap.yaml": inRoot(apHead) + `spec:
  rules:
  - from:
    - source:
        requestPrincipals:
        - "*"
        - testing@asm.test.io/*
        - testing@asm.test.io/demo@asm.test.io
        - "*/demo"
        - "*.test.io/demo"
        - testing@*
        - "*demo"
        - other.example.com/demo
        - "*.example.com/demo"
        - other*
        - testing@asm.test.io
    - source:
        notRequestPrincipals: [https://other/x/y]
`,
		}, []string{
			`/ap.yaml:18: spec.rules[0].from[0].source.requestPrincipals[7]: "other.example.com/demo": issuer "other.example.com" is not the issuer of any jwtRule in the tree (testing@asm.test.io), so no verified token matches this value; write "<issuer>/<subject>" with the issuer of a RequestAuthentication`,
			`/ap.yaml:19: spec.rules[0].from[0].source.requestPrincipals[8]: "*.example.com/demo": issuer pattern ".example.com" (suffix) is not the issuer of any jwtRule`,
			`/ap.yaml:20: spec.rules[0].from[0].source.requestPrincipals[9]: "other*": issuer pattern "other" (prefix) is not the issuer of any jwtRule`,
			`/ap.yaml:21: spec.rules[0].from[0].source.requestPrincipals[10]: "testing@asm.test.io" has no '/': it means issuer "testing@asm.test.io" with an EMPTY subject; for any subject of that issuer write "testing@asm.test.io/*"`,
			`/ap.yaml:23: spec.rules[0].from[1].source.notRequestPrincipals[0]: "https://other/x/y": issuer "https://other/x" is not the issuer of any jwtRule`,
		}},
		{"paths without a leading slash", map[string]string{
			"ap.yaml": inRoot(apHead) + `spec:
  action: DENY
  rules:
  - to:
    - operation:
        paths: [admin, "api/*", /ok, "/ok/*", "*", "*.png"]
        notPaths: [health]
`,
		}, []string{
			`/ap.yaml:11: spec.rules[0].to[0].operation.paths[0]: "admin" never matches: request paths always start with '/'; write "/admin"`,
			`/ap.yaml:11: spec.rules[0].to[0].operation.paths[1]: "api/*" never matches: request paths always start with '/'; write "/api/*"`,
			`/ap.yaml:12: spec.rules[0].to[0].operation.notPaths[0]: "health" never matches, so it excludes nothing: request paths always start with '/'; write "/health"`,
		}},
		{"the guide's documents", map[string]string{
			"gw.yaml": ingressGateway,
			"vs.yaml": vsHead + "spec:\n  hosts: ['*']\n  gateways: [httpbin-gateway]\n",
			"ra.yaml": rootRA,
			"ap.yaml": inRoot(apHead) + "spec:\n  selector:\n    matchLabels: {istio: ingressgateway}\n  rules:\n  - from:\n    - source: {requestPrincipals: [testing@asm.test.io/demo@asm.test.io]}\n",
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantWarnings(t, mustLoad(t, writeTree(t, tc.files)), tc.want)
		})
	}
}

func TestNearestField(t *testing.T) {
	fields := fieldsOf(jwtRuleType)
	for _, tc := range []struct{ key, want string }{
		{"issuers", "issuer"},
		{"Issuer", "issuer"},
		{"jwks_uri", "jwksUri"},
		{"jwksUrl", "jwksUri"},
		{"audiance", "audiences"},
		{"fromHeader", "fromHeaders"},
		{"timout", "timeout"},
		{"jwk", "jwks"},
		{"claims", ""},
		{"xyz", ""},
		{"ab", ""},
	} {
		if got := nearestField(tc.key, fields); got != tc.want {
			t.Errorf("nearestField(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

var jwtRuleType = reflectTypeOf[JWTRule]()
