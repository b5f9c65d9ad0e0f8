package translate

import (
	"slices"
	"strings"

	mutationv3 "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"

	"github.com/jwtgate/jwtgate/policies"
)

// headerMutationFilterName is Envoy's header_mutation HTTP filter.
const headerMutationFilterName = "envoy.filters.http.header_mutation"

// jwtOutputHeaders returns the request headers jwt_authn writes for rules
// (outputClaimToHeaders[].header and outputPayloadToHeader), lower-cased,
// without duplicates, sorted.
func jwtOutputHeaders(rules []policies.JWTRule) []string {
	var out []string
	add := func(h string) {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	for _, r := range rules {
		add(r.OutputPayloadToHeader)
		for _, c := range r.OutputClaimToHeaders {
			add(c.Header)
		}
	}
	slices.Sort(out)
	return out
}

// stripHeaders is the header_mutation filter placed before jwt_authn that
// removes every client-sent copy of the headers jwt_authn writes, or nil
// when no rule writes any. The upstream then sees those headers only when
// jwt_authn set them from a verified token.
//
// Envoy 1.40's jwt_authn already removes them itself (its verifiers
// sanitize forward_payload_header and claim_to_headers before extracting
// the token); checked against the real binary for a request without a
// token, a CORS preflight (bypass_cors_preflight) and a valid token of the
// first of two issuers (the second issuer's headers are removed too). That
// removal is an internal detail of the verifier tree, though, which has
// changed between Envoy versions and been reported missing for some
// requirement shapes (envoyproxy/envoy#35553). The explicit removal here
// keeps "a client cannot send an identity header" true whatever
// jwt_authn does, for one cheap filter, and only when outputs exist.
func stripHeaders(rules []policies.JWTRule) *headermutationv3.HeaderMutation {
	headers := jwtOutputHeaders(rules)
	if len(headers) == 0 {
		return nil
	}
	m := &headermutationv3.Mutations{}
	for _, h := range headers {
		m.RequestMutations = append(m.RequestMutations, &mutationv3.HeaderMutation{
			Action: &mutationv3.HeaderMutation_Remove{Remove: h},
		})
	}
	return &headermutationv3.HeaderMutation{Mutations: m}
}
