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

func TestAppliedJWTRulesOnePerIssuer(t *testing.T) {
	ra := func(ns, name string, sel map[string]string, rules ...policies.JWTRule) *policies.RequestAuthentication {
		r := &policies.RequestAuthentication{Metadata: meta(ns, name), Spec: policies.RequestAuthenticationSpec{JWTRules: rules}}
		if sel != nil {
			r.Spec.Selector = &policies.WorkloadSelector{MatchLabels: sel}
		}
		return r
	}
	set := &policies.Set{RequestAuthentications: []*policies.RequestAuthentication{
		ra("istio-system", "b", nil, policies.JWTRule{Issuer: "z", Jwks: "second"}),
		ra("istio-system", "a", nil, policies.JWTRule{Issuer: "z", Jwks: "first"}, policies.JWTRule{Issuer: "m", Jwks: "m"}),
		ra("istio-system", "c", map[string]string{"istio": "other"}, policies.JWTRule{Issuer: "ignored", Jwks: "x"}),
		ra("default", "d", nil, policies.JWTRule{Issuer: "other-namespace", Jwks: "x"}),
	}}
	rules := appliedJWTRules(set, gatewayID, "istio-system")
	var got []string
	for _, r := range rules {
		got = append(got, r.Issuer+"="+r.Jwks)
	}
	if strings.Join(got, ",") != "m=m,z=first" {
		t.Fatalf("rules = %v, want m=m,z=first", got)
	}
}
