package translate

import (
	"fmt"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/jwtgate/jwtgate/policies"
)

const (
	// jwtFilterName is the jwt_authn HTTP filter and its metadata namespace.
	jwtFilterName = "envoy.filters.http.jwt_authn"
	// payloadKey is where every provider writes the verified payload.
	payloadKey = "payload"
)

// defaultSpaceDelimitedClaims are split into lists in the metadata payload.
var defaultSpaceDelimitedClaims = []string{"scope", "permission"}

// appliedJWTRules returns every JWT rule of every RequestAuthentication
// that applies to id, each as its own provider, like istiod: rules naming
// the same issuer are all kept (each has its own token locations, audiences
// and outputs; dropping one would silently accept tokens in its locations
// unverified and let clients spoof its output headers). The list is sorted
// by issuer; rules with the same issuer keep (namespace, name, rule index)
// order, so provider names are stable.
func appliedJWTRules(set *policies.Set, id policies.Identity, root string) []policies.JWTRule {
	var out []policies.JWTRule
	for _, ra := range sortedByMeta(set.RequestAuthentications, func(r *policies.RequestAuthentication) policies.ObjectMeta { return r.Metadata }) {
		if !policyApplies(ra.Metadata.Namespace, ra.Spec.Selector, id, root) {
			continue
		}
		out = append(out, ra.Spec.JWTRules...)
	}
	slices.SortStableFunc(out, func(a, b policies.JWTRule) int { return strings.Compare(a.Issuer, b.Issuer) })
	return out
}

// providerName is the stable name of the provider at index i of the
// sorted rule list (appliedJWTRules): "origins-<i>", as istiod names them.
func providerName(i int) string {
	return fmt.Sprintf("origins-%d", i)
}

// jwtAuthn builds the jwt_authn filter config for the sorted rules (one
// provider per rule, see appliedJWTRules), or nil when there are none. The
// requirement, like istiod's, lets a request without a token through
// (authorization decides) and rejects a token that no provider verifies with
// 401:
//
//	1 provider:  requires_any[P, allow_missing]
//	N providers: requires_any[P1 .. PN, requires_all[any[P1, allow_missing] .. any[PN, allow_missing]]]
func jwtAuthn(rules []policies.JWTRule, opts Options) (*jwtv3.JwtAuthentication, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	cfg := &jwtv3.JwtAuthentication{
		Providers:           map[string]*jwtv3.JwtProvider{},
		BypassCorsPreflight: true,
	}
	var anyOf, allOf []*jwtv3.JwtRequirement
	for i, r := range rules {
		name := providerName(i)
		p, err := jwtProvider(r, opts)
		if err != nil {
			return nil, err
		}
		cfg.Providers[name] = p
		anyOf = append(anyOf, providerReq(name))
		allOf = append(allOf, requiresAny(providerReq(name), allowMissing()))
	}
	req := allOf[0]
	if len(rules) > 1 {
		req = requiresAny(append(anyOf, &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_RequiresAll{
			RequiresAll: &jwtv3.JwtRequirementAndList{Requirements: allOf},
		}})...)
	}
	cfg.Rules = []*jwtv3.RequirementRule{{
		Match:           &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
		RequirementType: &jwtv3.RequirementRule_Requires{Requires: req},
	}}
	return cfg, nil
}

// jwtProvider converts one JWT rule. With Options.EnvoyFetchesKeys a rule
// with jwksUri gets remote_jwks (Envoy fetches the keys, see remoteJWKS).
// Otherwise keys are inlined (local_jwks): the rule's jwks, else the keys
// fetched for its jwksUri (or, without jwksUri, for its OIDC discovery URL,
// see policies.JWTRule.KeysURL), else the fail-closed JWKS so that every
// token of the issuer is rejected.
func jwtProvider(r policies.JWTRule, opts Options) (*jwtv3.JwtProvider, error) {
	claims := slices.Clone(defaultSpaceDelimitedClaims)
	for _, c := range r.SpaceDelimitedClaims {
		if !slices.Contains(claims, c) {
			claims = append(claims, c)
		}
	}
	p := &jwtv3.JwtProvider{
		Issuer:                     r.Issuer,
		Audiences:                  r.Audiences,
		Forward:                    r.ForwardOriginalToken,
		ForwardPayloadHeader:       r.OutputPayloadToHeader,
		PayloadInMetadata:          payloadKey,
		NormalizePayloadInMetadata: &jwtv3.JwtProvider_NormalizePayload{SpaceDelimitedClaims: claims},
		FromParams:                 r.FromParams,
		FromCookies:                r.FromCookies,
	}
	if usesRemoteJWKS(r, opts) {
		remote, err := remoteJWKS(r)
		if err != nil {
			return nil, err
		}
		p.JwksSourceSpecifier = &jwtv3.JwtProvider_RemoteJwks{RemoteJwks: remote}
	} else {
		jwks := r.Jwks
		if jwks == "" {
			jwks = opts.JWKS[r.KeysURL()]
		}
		if jwks == "" {
			jwks = opts.FailClosedJWKS
		}
		if jwks == "" {
			return nil, fmt.Errorf("translate: issuer %q: no keys for %s and no fail-closed JWKS configured", r.Issuer, r.KeysURL())
		}
		p.JwksSourceSpecifier = &jwtv3.JwtProvider_LocalJwks{LocalJwks: &corev3.DataSource{
			Specifier: &corev3.DataSource_InlineString{InlineString: jwks},
		}}
	}
	for _, h := range r.FromHeaders {
		p.FromHeaders = append(p.FromHeaders, &jwtv3.JwtHeader{Name: h.Name, ValuePrefix: h.Prefix})
	}
	for _, c := range r.OutputClaimToHeaders {
		p.ClaimToHeaders = append(p.ClaimToHeaders, &jwtv3.JwtClaimToHeader{HeaderName: c.Header, ClaimName: c.Claim})
	}
	return p, nil
}

func providerReq(name string) *jwtv3.JwtRequirement {
	return &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_ProviderName{ProviderName: name}}
}

func allowMissing() *jwtv3.JwtRequirement {
	return &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_AllowMissing{AllowMissing: &emptypb.Empty{}}}
}

func requiresAny(reqs ...*jwtv3.JwtRequirement) *jwtv3.JwtRequirement {
	return &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_RequiresAny{
		RequiresAny: &jwtv3.JwtRequirementOrList{Requirements: reqs},
	}}
}
