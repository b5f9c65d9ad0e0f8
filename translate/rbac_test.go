package translate

import (
	"strings"
	"testing"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"

	"github.com/jwtgate/jwtgate/policies"
)

// iss/sub shorthand for expected sourced-metadata principals.
func mdJSON(key, match string) string {
	return `{"sourcedMetadata":{"metadataMatcher":{"filter":"envoy.filters.http.jwt_authn","path":[{"key":"payload"},{"key":"` + key + `"}],"value":{"stringMatch":` + match + `}}}}`
}

func TestRequestPrincipal(t *testing.T) {
	and := func(a, b string) string { return `{"andIds":{"ids":[` + a + `,` + b + `]}}` }
	anyV := `{"safeRegex":{"regex":".+"}}`
	tests := []struct{ in, want string }{
		// "*" deliberately tests iss only (the seed's token has no sub).
		{"*", mdJSON("iss", anyV)},
		{"testing@asm.test.io/demo@asm.test.io", and(mdJSON("iss", `{"exact":"testing@asm.test.io"}`), mdJSON("sub", `{"exact":"demo@asm.test.io"}`))},
		{"https://a.com/x/sub", and(mdJSON("iss", `{"exact":"https://a.com/x"}`), mdJSON("sub", `{"exact":"sub"}`))},
		{"noslash", and(mdJSON("iss", `{"exact":"noslash"}`), mdJSON("sub", `{"exact":""}`))},
		{"https://a.com/*", and(mdJSON("iss", `{"exact":"https://a.com"}`), mdJSON("sub", anyV))},
		{"https://a.com/u*", and(mdJSON("iss", `{"exact":"https://a.com"}`), mdJSON("sub", `{"prefix":"u"}`))},
		{"iss*", and(mdJSON("iss", `{"prefix":"iss"}`), mdJSON("sub", anyV))},
		{"*@x.io", and(mdJSON("iss", anyV), mdJSON("sub", `{"suffix":"@x.io"}`))},
		{"*/demo", and(mdJSON("iss", anyV), mdJSON("sub", `{"exact":"demo"}`))},
		{"*.com/demo", and(mdJSON("iss", `{"suffix":".com"}`), mdJSON("sub", `{"exact":"demo"}`))},
	}
	for _, tt := range tests {
		p, err := requestPrincipal(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := compact(t, p); got != tt.want {
			t.Errorf("%q:\n got  %s\n want %s", tt.in, got, tt.want)
		}
	}
}

// TestRequestPrincipalBehaviour evaluates the generated principals against
// payloads the way Envoy does, for istiod >= 1.22's semantics (every form
// tests iss AND sub) and jwtgate's one exception ("*" tests iss only).
func TestRequestPrincipalBehaviour(t *testing.T) {
	tok := func(iss, sub string) map[string]any {
		p := map[string]any{}
		if iss != "" {
			p["iss"] = iss
		}
		if sub != "" {
			p["sub"] = sub
		}
		return p
	}
	const login = "https://login.example.com"
	tests := []struct {
		principal string
		payload   map[string]any
		want      bool
	}{
		{"*", tok("testing@asm.test.io", ""), true}, // the seed's token without sub
		{"*", tok("i", "s"), true},
		{"*", nil, false},
		{login + "/*", tok(login, "alice"), true},
		{login + "/*", tok(login+"/partners", "alice"), false}, // review item 4: Istio 403
		{login + "/*", tok(login, ""), false},                  // sub required
		{login + "/*", tok(login+"x", "alice"), false},
		{login + "/a*", tok(login, "alice"), true},
		{login + "/a*", tok(login, "bob"), false},
		{login + "/a*", tok(login+"/a", "x"), false},
		{"testing@*", tok("testing@asm.test.io", "alice"), true},
		{"testing@*", tok("testing@asm.test.io", ""), false},
		// split at the last "/" like istiod: iss "https:/", sub prefix "login"
		{"https://login*", tok(login, "alice"), false},
		{"https://login*", tok("https:/", "login-1"), true},
		{"*@x.io", tok("any", "bob@x.io"), true},
		{"*@x.io", tok("any", "bob@y.io"), false},
		{"*/demo", tok("any", "demo"), true},
		{"*/demo", tok("any", "demo2"), false},
		{"*.com/demo", tok("https://a.com", "demo"), true},
		{"*.com/demo", tok("https://a.org", "demo"), false},
		{"testing@asm.test.io/demo@asm.test.io", tok("testing@asm.test.io", "demo@asm.test.io"), true},
		{"testing@asm.test.io/demo@asm.test.io", tok("testing@asm.test.io", "other"), false},
		{"testing@asm.test.io/demo@asm.test.io", tok("testing@asm.test.io", ""), false},
		{"noslash", tok("noslash", ""), false}, // sub must be present and empty
		{"noslash", map[string]any{"iss": "noslash", "sub": ""}, true},
	}
	for _, tt := range tests {
		p, err := requestPrincipal(tt.principal)
		if err != nil {
			t.Fatal(err)
		}
		if got := evalPrincipal(t, p, tt.payload); got != tt.want {
			t.Errorf("principal %q, payload %v: match = %v, want %v", tt.principal, tt.payload, got, tt.want)
		}
	}
}

func TestIstioString(t *testing.T) {
	tests := []struct {
		in         string
		ignoreCase bool
		want       string
	}{
		{"*", true, `{"safeRegex":{"regex":".+"}}`},
		{"/a/*", false, `{"prefix":"/a/"}`},
		{"*/a", false, `{"suffix":"/a"}`},
		{"A.com", true, `{"exact":"A.com","ignoreCase":true}`},
	}
	for _, tt := range tests {
		if got := compact(t, istioString(tt.in, tt.ignoreCase)); got != tt.want {
			t.Errorf("%q: got %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestCondition(t *testing.T) {
	tests := []struct {
		c    policies.Condition
		perm bool
		want string
	}{
		{policies.Condition{Key: "request.auth.claims[groups]", Values: []string{"admins"}},
			false, `{"sourcedMetadata":{"metadataMatcher":{"filter":"envoy.filters.http.jwt_authn","path":[{"key":"payload"},{"key":"groups"}],"value":{"orMatch":{"valueMatchers":[{"stringMatch":{"exact":"admins"}},{"listMatch":{"oneOf":{"stringMatch":{"exact":"admins"}}}}]}}}}}`},
		{policies.Condition{Key: "request.auth.claims[a][b]", NotValues: []string{"x"}},
			false, `{"notId":{"sourcedMetadata":{"metadataMatcher":{"filter":"envoy.filters.http.jwt_authn","path":[{"key":"payload"},{"key":"a"},{"key":"b"}],"value":{"orMatch":{"valueMatchers":[{"stringMatch":{"exact":"x"}},{"listMatch":{"oneOf":{"stringMatch":{"exact":"x"}}}}]}}}}}}`},
		{policies.Condition{Key: "request.headers[X-Tenant]", Values: []string{"acme", "*"}},
			false, `{"orIds":{"ids":[{"header":{"name":"x-tenant","stringMatch":{"exact":"acme"}}},{"header":{"name":"x-tenant","presentMatch":true}}]}}`},
		{policies.Condition{Key: "remote.ip", Values: []string{"10.0.0.0/8"}},
			false, `{"remoteIp":{"addressPrefix":"10.0.0.0","prefixLen":8}}`},
		{policies.Condition{Key: "source.ip", Values: []string{"::1"}},
			false, `{"directRemoteIp":{"addressPrefix":"::1","prefixLen":128}}`},
		{policies.Condition{Key: "source.namespace", Values: []string{"x"}}, false, `{"notId":{"any":true}}`},
		{policies.Condition{Key: "request.auth.presenter", Values: []string{"web"}},
			false, `{"sourcedMetadata":{"metadataMatcher":{"filter":"envoy.filters.http.jwt_authn","path":[{"key":"payload"},{"key":"azp"}],"value":{"orMatch":{"valueMatchers":[{"stringMatch":{"exact":"web"}},{"listMatch":{"oneOf":{"stringMatch":{"exact":"web"}}}}]}}}}}`},
		{policies.Condition{Key: "destination.port", Values: []string{"80"}, NotValues: []string{"81"}},
			true, `{"andRules":{"rules":[{"destinationPort":80},{"notRule":{"destinationPort":81}}]}}`},
		{policies.Condition{Key: "connection.sni", Values: []string{"*.a.com"}}, true, `{"requestedServerName":{"suffix":".a.com"}}`},
	}
	for _, tt := range tests {
		perm, id, err := condition(tt.c)
		if err != nil {
			t.Fatalf("%s: %v", tt.c.Key, err)
		}
		var got string
		if tt.perm {
			if id != nil {
				t.Errorf("%s: want only a permission", tt.c.Key)
			}
			got = compact(t, perm)
		} else {
			if perm != nil {
				t.Errorf("%s: want only a principal", tt.c.Key)
			}
			got = compact(t, id)
		}
		if got != tt.want {
			t.Errorf("%s:\n got  %s\n want %s", tt.c.Key, got, tt.want)
		}
	}
	if _, _, err := condition(policies.Condition{Key: "remote.ip", Values: []string{"nope"}}); err == nil {
		t.Error("bad IP: want error")
	}
}

func TestRulePolicy(t *testing.T) {
	empty, err := rulePolicy(policies.Rule{}, rbacv3.RBAC_DENY)
	if err != nil {
		t.Fatal(err)
	}
	if got := compact(t, empty); got != `{"permissions":[{"any":true}],"principals":[{"any":true}]}` {
		t.Errorf("empty rule = %s", got)
	}
	r := policies.Rule{
		From: []policies.RuleFrom{{Source: policies.Source{Principals: []string{"p"}}}, {Source: policies.Source{NotPrincipals: []string{"p"}}}},
		To:   []policies.RuleTo{{Operation: policies.Operation{Methods: []string{"GET"}, NotPaths: []string{"/x/*"}, Hosts: []string{"A.com"}}}},
	}
	p, err := rulePolicy(r, rbacv3.RBAC_DENY) // notPaths in DENY grant: prefix without ";" (pathparams.go)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"permissions":[{"andRules":{"rules":[{"header":{"name":":authority","stringMatch":{"exact":"A.com","ignoreCase":true}}},` +
		`{"header":{"name":":method","stringMatch":{"exact":"GET"}}},` +
		`{"notRule":{"andRules":{"rules":[{"urlPath":{"path":{"prefix":"/x/"}}},{"notRule":{"urlPath":{"path":{"contains":";"}}}}]}}}]}}],` +
		`"principals":[{"orIds":{"ids":[{"notId":{"any":true}},{"notId":{"notId":{"any":true}}}]}}]}`
	if got := compact(t, p); got != want {
		t.Errorf("rule:\n got  %s\n want %s", got, want)
	}
}

func TestRBACFiltersStages(t *testing.T) {
	dry := allowAP("dry", "DENY", pathRule("/x"))
	dry.Metadata.Annotations = map[string]string{policies.AnnotationDryRun: "true"}
	set := &policies.Set{AuthorizationPolicies: []*policies.AuthorizationPolicy{
		allowAP("z-allow", "", requestPrincipalsRule("*", false)),
		allowAP("deny", "DENY", pathRule("/admin")),
		allowAP("audit", "AUDIT", policies.Rule{}),
		allowAP("nothing", "ALLOW"),
		dry,
		{Metadata: meta("default", "elsewhere"), Spec: policies.AuthorizationPolicySpec{Action: "DENY", Rules: []policies.Rule{{}}}},
	}}
	filters, challenge, err := rbacFilters(set, gatewayID, "istio-system")
	if err != nil {
		t.Fatal(err)
	}
	if len(filters) != 3 {
		t.Fatalf("want AUDIT, DENY, ALLOW filters, got %d", len(filters))
	}
	wantActions := []rbacv3.RBAC_Action{rbacv3.RBAC_LOG, rbacv3.RBAC_DENY, rbacv3.RBAC_ALLOW}
	for i, f := range filters {
		if f.GetRules().GetAction() != wantActions[i] {
			t.Errorf("filter %d action %v, want %v", i, f.GetRules().GetAction(), wantActions[i])
		}
	}
	if _, ok := filters[1].GetRules().GetPolicies()["ns-istio-system-policy-deny-rule-0"]; !ok || len(filters[1].GetRules().GetPolicies()) != 1 {
		t.Errorf("deny policies = %v", filters[1].GetRules().GetPolicies())
	}
	if filters[1].GetShadowRules().GetPolicies()["ns-istio-system-policy-dry-rule-0"] == nil || filters[1].GetShadowRulesStatPrefix() != "istio_dry_run_deny_" {
		t.Errorf("dry-run policy not in shadow rules: %s", compact(t, filters[1]))
	}
	// "nothing" (ALLOW without rules) adds no policy: only z-allow's rule.
	if n := len(filters[2].GetRules().GetPolicies()); n != 1 {
		t.Errorf("allow policies = %d, want 1", n)
	}
	if strings.Join(challenge, ",") != "rbac_access_denied_matched_policy[none]" {
		t.Errorf("challenge = %v", challenge)
	}

	denyAll, _, err := rbacFilters(&policies.Set{AuthorizationPolicies: []*policies.AuthorizationPolicy{allowAP("nothing", "ALLOW")}}, gatewayID, "istio-system")
	if err != nil {
		t.Fatal(err)
	}
	if len(denyAll) != 1 || denyAll[0].GetRules() == nil || len(denyAll[0].GetRules().GetPolicies()) != 0 {
		t.Errorf("ALLOW without rules must give an ALLOW filter with no policies (deny all): %v", denyAll)
	}

	onlyDry := allowAP("only-dry", "ALLOW", policies.Rule{})
	onlyDry.Metadata.Annotations = map[string]string{policies.AnnotationDryRun: "true"}
	shadow, _, err := rbacFilters(&policies.Set{AuthorizationPolicies: []*policies.AuthorizationPolicy{onlyDry}}, gatewayID, "istio-system")
	if err != nil {
		t.Fatal(err)
	}
	if len(shadow) != 1 || shadow[0].GetRules() != nil || shadow[0].GetShadowRules() == nil {
		t.Errorf("dry-run-only ALLOW must enforce nothing: %v", shadow)
	}
}

// TestPresenterStringOrList: request.auth.presenter matches azp as a string
// or as any element of a list, like istiod (review item 10).
func TestPresenterStringOrList(t *testing.T) {
	_, id, err := condition(policies.Condition{Key: "request.auth.presenter", Values: []string{"web"}, NotValues: []string{"cli*"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		azp  any
		want bool
	}{
		{"web", true},
		{[]any{"mobile", "web"}, true},
		{[]any{"mobile"}, false},
		{"mobile", false},
		{[]any{"web", "cli-x"}, false},
	}
	for _, tt := range tests {
		if got := evalPrincipal(t, id, map[string]any{"iss": "i", "azp": tt.azp}); got != tt.want {
			t.Errorf("azp %v: match = %v, want %v", tt.azp, got, tt.want)
		}
	}
	if evalPrincipal(t, id, map[string]any{"iss": "i"}) {
		t.Error("no azp claim must not match")
	}
}

// TestIsDryRun: the istio.io/dry-run annotation is read with
// strconv.ParseBool, exactly as the policies package validates it and as
// istiod reads it (review item 2: "1" and "t" were enforced before).
func TestIsDryRun(t *testing.T) {
	tests := []struct {
		value string
		set   bool
		want  bool
	}{
		{"", false, false},
		{"true", true, true},
		{"True", true, true},
		{"TRUE", true, true},
		{"1", true, true},
		{"t", true, true},
		{"T", true, true},
		{"false", true, false},
		{"0", true, false},
		{"f", true, false},
		{"F", true, false},
		{"FALSE", true, false},
	}
	for _, tt := range tests {
		p := allowAP("p", "ALLOW", policies.Rule{})
		if tt.set {
			p.Metadata.Annotations = map[string]string{policies.AnnotationDryRun: tt.value}
		}
		if got := isDryRun(p); got != tt.want {
			t.Errorf("dry-run %q (set %v) = %v, want %v", tt.value, tt.set, got, tt.want)
		}
		filters, _, err := rbacFilters(&policies.Set{AuthorizationPolicies: []*policies.AuthorizationPolicy{p}}, gatewayID, "istio-system")
		if err != nil {
			t.Fatal(err)
		}
		enforced := filters[0].GetRules() != nil
		if enforced == tt.want {
			t.Errorf("dry-run %q: enforced = %v, want %v", tt.value, enforced, !tt.want)
		}
	}
}
