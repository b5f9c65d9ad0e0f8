package translate

import (
	"slices"
	"testing"

	"github.com/jwtgate/jwtgate/policies"
)

func TestStripHeaders(t *testing.T) {
	tests := []struct {
		name  string
		rules []policies.JWTRule
		want  string // compact JSON of the filter config, "" for no filter
	}{
		{"no rules", nil, ""},
		{"no outputs", []policies.JWTRule{{Issuer: "a", ForwardOriginalToken: true}}, ""},
		{"payload header", []policies.JWTRule{{Issuer: "a", OutputPayloadToHeader: "x-jwt-payload"}},
			`{"mutations":{"requestMutations":[{"remove":"x-jwt-payload"}]}}`},
		{"claims lower-cased, deduplicated, sorted across issuers", []policies.JWTRule{
			{Issuer: "a", OutputClaimToHeaders: []policies.ClaimToHeader{{Header: "X-JWT-Sub", Claim: "sub"}, {Header: "x-jwt-iss", Claim: "iss"}}},
			{Issuer: "b", OutputPayloadToHeader: "x-b", OutputClaimToHeaders: []policies.ClaimToHeader{{Header: "x-jwt-sub", Claim: "sub"}}},
		}, `{"mutations":{"requestMutations":[{"remove":"x-b"},{"remove":"x-jwt-iss"},{"remove":"x-jwt-sub"}]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := stripHeaders(tt.rules)
			if tt.want == "" {
				if f != nil {
					t.Fatalf("want no filter, got %s", compact(t, f))
				}
				return
			}
			if f == nil {
				t.Fatal("want a filter, got none")
			}
			if err := f.ValidateAll(); err != nil {
				t.Fatal(err)
			}
			if got := compact(t, f); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestStripHeadersBeforeJWT checks the chain order: the client's copies
// are removed before jwt_authn writes the verified values, and there is no
// header_mutation filter when nothing is written.
func TestStripHeadersBeforeJWT(t *testing.T) {
	ra := func(rule policies.JWTRule) func(*policies.Set) {
		return func(s *policies.Set) {
			s.RequestAuthentications = []*policies.RequestAuthentication{{
				Metadata: meta("istio-system", "ra"),
				Spec:     policies.RequestAuthenticationSpec{JWTRules: []policies.JWTRule{rule}},
			}}
		}
	}
	names := func(set *policies.Set) []string {
		res, err := Translate(set, gatewayID, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range hcmOf(t, res.Listeners[0]).GetHttpFilters() {
			out = append(out, f.GetName())
		}
		return out
	}
	with := names(guideSet(ra(policies.JWTRule{Issuer: "i", Jwks: "{}",
		OutputClaimToHeaders: []policies.ClaimToHeader{{Header: "x-jwt-sub", Claim: "sub"}}})))
	if want := []string{headerMutationFilterName, jwtFilterName, routerFilterName}; !slices.Equal(with, want) {
		t.Errorf("with outputs: filters %v, want %v", with, want)
	}
	without := names(guideSet(ra(policies.JWTRule{Issuer: "i", Jwks: "{}"})))
	if want := []string{jwtFilterName, routerFilterName}; !slices.Equal(without, want) {
		t.Errorf("without outputs: filters %v, want %v", without, want)
	}
}
