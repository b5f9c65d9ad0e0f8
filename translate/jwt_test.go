package translate

import (
	"strings"
	"testing"

	"github.com/jwtgate/jwtgate/policies"
)

func TestJWTAuthnRequirement(t *testing.T) {
	one, err := jwtAuthn([]policies.JWTRule{{Issuer: "a", Jwks: "{}"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := compact(t, one.Rules[0]), `{"match":{"prefix":"/"},"requires":{"requiresAny":{"requirements":[{"providerName":"origins-0"},{"allowMissing":{}}]}}}`; got != want {
		t.Errorf("one provider:\n got  %s\n want %s", got, want)
	}
	if !one.BypassCorsPreflight {
		t.Error("bypass_cors_preflight must be set")
	}
	two, err := jwtAuthn([]policies.JWTRule{{Issuer: "a", Jwks: "{}"}, {Issuer: "b", Jwks: "{}"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"match":{"prefix":"/"},"requires":{"requiresAny":{"requirements":[{"providerName":"origins-0"},{"providerName":"origins-1"},` +
		`{"requiresAll":{"requirements":[{"requiresAny":{"requirements":[{"providerName":"origins-0"},{"allowMissing":{}}]}},` +
		`{"requiresAny":{"requirements":[{"providerName":"origins-1"},{"allowMissing":{}}]}}]}}]}}}`
	if got := compact(t, two.Rules[0]); got != want {
		t.Errorf("two providers:\n got  %s\n want %s", got, want)
	}
	if none, err := jwtAuthn(nil, Options{}); none != nil || err != nil {
		t.Errorf("no rules: got %v, %v", none, err)
	}
}

func TestJWTProvider(t *testing.T) {
	opts := Options{
		JWKS:           map[string]string{"https://a/jwks": "A", "https://c/.well-known/openid-configuration": "C"},
		FailClosedJWKS: "FC",
	}
	tests := []struct {
		name string
		rule policies.JWTRule
		want string
	}{
		{"inline", policies.JWTRule{Issuer: "i", Jwks: "INLINE"},
			`{"issuer":"i","localJwks":{"inlineString":"INLINE"},"normalizePayloadInMetadata":{"spaceDelimitedClaims":["scope","permission"]},"payloadInMetadata":"payload"}`},
		{"fetched", policies.JWTRule{Issuer: "a", JwksURI: "https://a/jwks", SpaceDelimitedClaims: []string{"roles", "scope"}},
			`{"issuer":"a","localJwks":{"inlineString":"A"},"normalizePayloadInMetadata":{"spaceDelimitedClaims":["scope","permission","roles"]},"payloadInMetadata":"payload"}`},
		{"discovery", policies.JWTRule{Issuer: "https://c/"},
			`{"issuer":"https://c/","localJwks":{"inlineString":"C"},"normalizePayloadInMetadata":{"spaceDelimitedClaims":["scope","permission"]},"payloadInMetadata":"payload"}`},
		{"fail closed", policies.JWTRule{Issuer: "b", JwksURI: "https://b/jwks"},
			`{"issuer":"b","localJwks":{"inlineString":"FC"},"normalizePayloadInMetadata":{"spaceDelimitedClaims":["scope","permission"]},"payloadInMetadata":"payload"}`},
		{"locations and outputs", policies.JWTRule{Issuer: "i", Jwks: "K", Audiences: []string{"x"},
			FromHeaders: []policies.JWTHeader{{Name: "x-jwt", Prefix: "Token "}}, FromParams: []string{"t"}, FromCookies: []string{"s"},
			ForwardOriginalToken: true, OutputPayloadToHeader: "x-p", OutputClaimToHeaders: []policies.ClaimToHeader{{Header: "x-sub", Claim: "sub"}}},
			`{"audiences":["x"],"claimToHeaders":[{"claimName":"sub","headerName":"x-sub"}],"forward":true,"forwardPayloadHeader":"x-p","fromCookies":["s"],` +
				`"fromHeaders":[{"name":"x-jwt","valuePrefix":"Token "}],"fromParams":["t"],"issuer":"i","localJwks":{"inlineString":"K"},` +
				`"normalizePayloadInMetadata":{"spaceDelimitedClaims":["scope","permission"]},"payloadInMetadata":"payload"}`},
	}
	for _, tt := range tests {
		p, err := jwtProvider(tt.rule, opts)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := compact(t, p); got != tt.want {
			t.Errorf("%s:\n got  %s\n want %s", tt.name, got, tt.want)
		}
	}
}

// TestAppliedJWTRulesEveryRule: every rule of every applying
// RequestAuthentication is kept, also when issuers repeat (across documents
// or inside one), sorted by issuer, ties in (namespace, name, rule index)
// order (review item 1: istiod keeps one provider per rule).
func TestAppliedJWTRulesEveryRule(t *testing.T) {
	ra := func(ns, name string, sel map[string]string, rules ...policies.JWTRule) *policies.RequestAuthentication {
		r := &policies.RequestAuthentication{Metadata: meta(ns, name), Spec: policies.RequestAuthenticationSpec{JWTRules: rules}}
		if sel != nil {
			r.Spec.Selector = &policies.WorkloadSelector{MatchLabels: sel}
		}
		return r
	}
	set := &policies.Set{RequestAuthentications: []*policies.RequestAuthentication{
		ra("istio-system", "b", nil, policies.JWTRule{Issuer: "z", Jwks: "b0"}),
		ra("istio-system", "a", nil, policies.JWTRule{Issuer: "z", Jwks: "a0"}, policies.JWTRule{Issuer: "m", Jwks: "a1"}, policies.JWTRule{Issuer: "z", Jwks: "a2"}),
		ra("istio-system", "c", map[string]string{"istio": "other"}, policies.JWTRule{Issuer: "ignored", Jwks: "x"}),
		ra("default", "d", nil, policies.JWTRule{Issuer: "other-namespace", Jwks: "x"}),
	}}
	rules := appliedJWTRules(set, gatewayID, "istio-system")
	var got []string
	for _, r := range rules {
		got = append(got, r.Issuer+"="+r.Jwks)
	}
	if want := "m=a1,z=a0,z=a2,z=b0"; strings.Join(got, ",") != want {
		t.Fatalf("rules = %v, want %s", got, want)
	}
}

// TestJWTAuthnSameIssuerProviders: two rules with the same issuer become two
// providers with their own token locations and outputs, and the requirement
// tree rejects a token that fails either provider's location (the review's
// garbage token in the second rule's x-api-token header).
func TestJWTAuthnSameIssuerProviders(t *testing.T) {
	rules := []policies.JWTRule{
		{Issuer: "https://i", Jwks: "K"},
		{Issuer: "https://i", Jwks: "K", FromHeaders: []policies.JWTHeader{{Name: "x-api-token"}},
			OutputClaimToHeaders: []policies.ClaimToHeader{{Header: "x-jwt-role", Claim: "role"}}},
	}
	cfg, err := jwtAuthn(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cfg.GetProviders()); n != 2 {
		t.Fatalf("providers = %d, want 2", n)
	}
	second := cfg.GetProviders()["origins-1"]
	if got := compact(t, second); !strings.Contains(got, `"fromHeaders":[{"name":"x-api-token"}]`) || !strings.Contains(got, `"claimToHeaders":[{"claimName":"role","headerName":"x-jwt-role"}]`) {
		t.Errorf("origins-1 lost the second rule's locations/outputs: %s", got)
	}
	if cfg.GetProviders()["origins-0"].GetFromHeaders() != nil {
		t.Errorf("origins-0 must keep the default locations")
	}
	want := `{"match":{"prefix":"/"},"requires":{"requiresAny":{"requirements":[{"providerName":"origins-0"},{"providerName":"origins-1"},` +
		`{"requiresAll":{"requirements":[{"requiresAny":{"requirements":[{"providerName":"origins-0"},{"allowMissing":{}}]}},` +
		`{"requiresAny":{"requirements":[{"providerName":"origins-1"},{"allowMissing":{}}]}}]}}]}}}`
	if got := compact(t, cfg.GetRules()[0]); got != want {
		t.Errorf("requirement:\n got  %s\n want %s", got, want)
	}
	// Both rules' output headers are stripped from client requests.
	if got := strings.Join(jwtOutputHeaders(rules), ","); got != "x-jwt-role" {
		t.Errorf("stripped headers = %s, want x-jwt-role", got)
	}
}
