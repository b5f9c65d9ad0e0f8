package translate

import (
	"strings"
	"testing"

	celv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/filters/cel/v3"
)

func TestNoTokenReply(t *testing.T) {
	lr, err := noTokenReply([]string{"rbac_access_denied_matched_policy[none]", "a'b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := lr.ValidateAll(); err != nil {
		t.Fatal(err)
	}
	m := lr.Mappers[0]
	if m.GetStatusCode().GetValue() != 401 || m.GetBody().GetInlineString() != "Jwt is missing" {
		t.Errorf("status %d body %q", m.GetStatusCode().GetValue(), m.GetBody().GetInlineString())
	}
	h := m.GetHeadersToAdd()[0].GetHeader()
	if h.GetKey() != "www-authenticate" || h.GetValue() != `Bearer realm="%REQ(X-FORWARDED-PROTO)%://%REQ(:AUTHORITY)%%REQ(:PATH)%"` {
		t.Errorf("header %s: %s", h.GetKey(), h.GetValue())
	}
	filters := m.GetFilter().GetAndFilter().GetFilters()
	if len(filters) != 2 {
		t.Fatalf("want an and of 2 filters, got %d", len(filters))
	}
	expr := &celv3.ExpressionFilter{}
	if err := filters[0].GetExtensionFilter().GetTypedConfig().UnmarshalTo(expr); err != nil {
		t.Fatal(err)
	}
	if want := `response.code_details in ['rbac_access_denied_matched_policy[none]', 'a\'b']`; expr.GetExpression() != want {
		t.Errorf("cel = %s, want %s", expr.GetExpression(), want)
	}
	md := filters[1].GetMetadataFilter()
	if !md.GetMatchIfKeyNotFound().GetValue() || md.GetMatcher().GetFilter() != jwtFilterName || md.GetMatcher().GetValue().GetNullMatch() == nil {
		t.Errorf("payload filter = %s", compact(t, md))
	}
}

func TestChallengeOnlyForTokenDependentDenials(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		policy string
		want   string // "" means no local reply config
	}{
		{"allow with token rule", Options{}, "allow-jwt", "[none]"},
		{"deny on path only", Options{}, "deny-path", ""},
		{"deny without token", Options{}, "deny-no-token", "ns-istio-system-policy-deny-no-token-rule-0"},
		{"403 option", Options{NoTokenStatus: 403}, "allow-jwt", ""},
	}
	pols := map[string]func() *policiesAP{
		"allow-jwt":     func() *policiesAP { return allowAP("allow-jwt", "ALLOW", requestPrincipalsRule("*", false)) },
		"deny-path":     func() *policiesAP { return allowAP("deny-path", "DENY", pathRule("/admin")) },
		"deny-no-token": func() *policiesAP { return allowAP("deny-no-token", "DENY", requestPrincipalsRule("*", true)) },
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := guideSet(nil)
			set.AuthorizationPolicies = append(set.AuthorizationPolicies, pols[tt.policy]())
			res, err := Translate(set, gatewayID, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			h := hcmOf(t, res.Listeners[0])
			if tt.want == "" {
				if h.LocalReplyConfig != nil {
					t.Fatalf("unexpected local reply config %s", compact(t, h.LocalReplyConfig))
				}
				return
			}
			if got := compact(t, h.GetLocalReplyConfig()); !strings.Contains(got, tt.want) {
				t.Fatalf("local reply %s does not mention %s", got, tt.want)
			}
		})
	}
}
