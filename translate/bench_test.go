package translate

import (
	"fmt"
	"testing"

	"github.com/jwtgate/jwtgate/policies"
)

// benchSet is a realistic tree: n VirtualServices with a few routes each,
// n RequestAuthentications (distinct issuers) and 2n AuthorizationPolicies.
func benchSet(n int) *policies.Set {
	set := guideSet(nil)
	set.Gateways[0].Spec.Servers = append(set.Gateways[0].Spec.Servers,
		policies.Server{Port: policies.Port{Number: 8443, Protocol: "HTTP"}, Hosts: []string{"*.example.com"}})
	for i := 0; i < n; i++ {
		host := fmt.Sprintf("svc%03d.example.com", i)
		set.VirtualServices = append(set.VirtualServices, &policies.VirtualService{
			Metadata: meta("apps", fmt.Sprintf("vs-%03d", i)),
			Spec: policies.VirtualServiceSpec{
				Hosts:    []string{host},
				Gateways: []string{"default/httpbin-gateway"},
				HTTP: []policies.HTTPRoute{
					{Match: []policies.HTTPMatchRequest{{URI: &policies.StringMatch{Prefix: "/v1/"}}, {URI: &policies.StringMatch{Regex: "/v[2-9]/.*"}}},
						Route: []policies.HTTPRouteDestination{
							{Destination: policies.Destination{Host: host, Port: &policies.PortSelector{Number: 8080}}, Weight: 90},
							{Destination: policies.Destination{Host: "canary-" + host, Port: &policies.PortSelector{Number: 8080}}, Weight: 10},
						}},
					{Route: []policies.HTTPRouteDestination{{Destination: policies.Destination{Host: host, Port: &policies.PortSelector{Number: 8080}}}}},
				},
			},
		})
		set.RequestAuthentications = append(set.RequestAuthentications, &policies.RequestAuthentication{
			Metadata: meta("istio-system", fmt.Sprintf("ra-%03d", i)),
			Spec: policies.RequestAuthenticationSpec{JWTRules: []policies.JWTRule{{
				Issuer: fmt.Sprintf("https://issuer%03d.example.com", i), JwksURI: fmt.Sprintf("https://issuer%03d.example.com/jwks", i),
			}}},
		})
		set.AuthorizationPolicies = append(set.AuthorizationPolicies,
			&policies.AuthorizationPolicy{
				Metadata: meta("istio-system", fmt.Sprintf("allow-%03d", i)),
				Spec: policies.AuthorizationPolicySpec{Rules: []policies.Rule{{
					From: []policies.RuleFrom{{Source: policies.Source{RequestPrincipals: []string{fmt.Sprintf("https://issuer%03d.example.com/*", i)}}}},
					To:   []policies.RuleTo{{Operation: policies.Operation{Hosts: []string{host}, Methods: []string{"GET", "POST"}, Paths: []string{"/v1/*"}}}},
					When: []policies.Condition{{Key: "request.auth.claims[groups]", Values: []string{"team-" + fmt.Sprint(i)}}},
				}}},
			},
			&policies.AuthorizationPolicy{
				Metadata: meta("istio-system", fmt.Sprintf("deny-%03d", i)),
				Spec: policies.AuthorizationPolicySpec{Action: policies.ActionDeny, Rules: []policies.Rule{{
					To: []policies.RuleTo{{Operation: policies.Operation{Hosts: []string{host}, Paths: []string{"/admin/*"}}}},
				}}},
			})
	}
	return set
}

func BenchmarkTranslate(b *testing.B) {
	set := benchSet(200)
	opts := Options{PortOffset: 8000, FailClosedJWKS: `{"keys":[]}`}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Translate(set, gatewayID, opts); err != nil {
			b.Fatal(err)
		}
	}
}
