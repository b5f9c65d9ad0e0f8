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
	or := func(a, b string) string { return `{"orIds":{"ids":[` + a + `,` + b + `]}}` }
	tests := []struct{ in, want string }{
		{"*", mdJSON("iss", `{"safeRegex":{"regex":".+"}}`)},
		{"testing@asm.test.io/demo@asm.test.io", and(mdJSON("iss", `{"exact":"testing@asm.test.io"}`), mdJSON("sub", `{"exact":"demo@asm.test.io"}`))},
		{"https://a.com/x/sub", and(mdJSON("iss", `{"exact":"https://a.com/x"}`), mdJSON("sub", `{"exact":"sub"}`))},
		{"noslash", `{"notId":{"any":true}}`},
		{"https://a.com/*", or(mdJSON("iss", `{"prefix":"https://a.com/"}`), and(mdJSON("iss", `{"exact":"https://a.com"}`), mdJSON("sub", `{"safeRegex":{"regex":".*"}}`)))},
		{"https://a.com/u*", or(mdJSON("iss", `{"prefix":"https://a.com/u"}`), and(mdJSON("iss", `{"exact":"https://a.com"}`), mdJSON("sub", `{"prefix":"u"}`)))},
		{"iss*", mdJSON("iss", `{"prefix":"iss"}`)},
		{"*@x.io", mdJSON("sub", `{"suffix":"@x.io"}`)},
		{"*/demo", and(mdJSON("iss", `{"safeRegex":{"regex":".*"}}`), mdJSON("sub", `{"exact":"demo"}`))},
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
	empty, err := rulePolicy(policies.Rule{})
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
	p, err := rulePolicy(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"permissions":[{"andRules":{"rules":[{"header":{"name":":authority","stringMatch":{"exact":"A.com","ignoreCase":true}}},` +
		`{"header":{"name":":method","stringMatch":{"exact":"GET"}}},{"notRule":{"urlPath":{"path":{"prefix":"/x/"}}}}]}}],` +
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
