package translate

import (
	"strings"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"

	"github.com/jwtgate/jwtgate/policies"
)

// sourcePrincipal is the AND of a Source's fields.
//
// principals and namespaces name the mTLS peer identity, which a plaintext
// ingress never has: each value never matches (so notPrincipals and
// notNamespaces always match), exactly as Istio behaves without a peer
// certificate.
func sourcePrincipal(s policies.Source) (*rbacv3.Principal, error) {
	var and []*rbacv3.Principal
	var err error
	never := func(string) (*rbacv3.Principal, error) { return neverID(), nil }
	steps := []struct {
		values []string
		negate bool
		one    func(string) (*rbacv3.Principal, error)
	}{
		{s.Principals, false, never},
		{s.NotPrincipals, true, never},
		{s.RequestPrincipals, false, requestPrincipal},
		{s.NotRequestPrincipals, true, requestPrincipal},
		{s.Namespaces, false, never},
		{s.NotNamespaces, true, never},
		{s.IPBlocks, false, directRemoteIP},
		{s.NotIPBlocks, true, directRemoteIP},
		{s.RemoteIPBlocks, false, remoteIP},
		{s.NotRemoteIPBlocks, true, remoteIP},
	}
	for _, st := range steps {
		if and, err = fieldIDs(and, st.values, st.negate, st.one); err != nil {
			return nil, err
		}
	}
	return andIDs(and), nil
}

// directRemoteIP matches the peer address of the connection (ipBlocks,
// source.ip).
func directRemoteIP(v string) (*rbacv3.Principal, error) {
	c, err := cidr(v)
	if err != nil {
		return nil, err
	}
	return &rbacv3.Principal{Identifier: &rbacv3.Principal_DirectRemoteIp{DirectRemoteIp: c}}, nil
}

// remoteIP matches the client address derived from X-Forwarded-For and the
// trusted hops (remoteIpBlocks, remote.ip).
func remoteIP(v string) (*rbacv3.Principal, error) {
	c, err := cidr(v)
	if err != nil {
		return nil, err
	}
	return &rbacv3.Principal{Identifier: &rbacv3.Principal_RemoteIp{RemoteIp: c}}, nil
}

// payloadMatcher matches the verified JWT payload at path (below "payload")
// in jwt_authn's dynamic metadata. It uses sourced_metadata: the plain
// metadata principal is deprecated in Envoy 1.40.
func payloadMatcher(path []string, v *matcherv3.ValueMatcher) *rbacv3.Principal {
	segs := []*matcherv3.MetadataMatcher_PathSegment{{Segment: &matcherv3.MetadataMatcher_PathSegment_Key{Key: payloadKey}}}
	for _, p := range path {
		segs = append(segs, &matcherv3.MetadataMatcher_PathSegment{Segment: &matcherv3.MetadataMatcher_PathSegment_Key{Key: p}})
	}
	return &rbacv3.Principal{Identifier: &rbacv3.Principal_SourcedMetadata{SourcedMetadata: &rbacv3.SourcedMetadata{
		MetadataMatcher: &matcherv3.MetadataMatcher{Filter: jwtFilterName, Path: segs, Value: v},
		MetadataSource:  rbacv3.MetadataSource_DYNAMIC,
	}}}
}

// stringValue matches a metadata string value.
func stringValue(sm *matcherv3.StringMatcher) *matcherv3.ValueMatcher {
	return &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_StringMatch{StringMatch: sm}}
}

// stringOrListValue matches a string value, or any element of a list value
// (claims such as aud, groups or a space-delimited scope).
func stringOrListValue(sm *matcherv3.StringMatcher) *matcherv3.ValueMatcher {
	return &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_OrMatch{OrMatch: &matcherv3.OrMatcher{
		ValueMatchers: []*matcherv3.ValueMatcher{
			stringValue(sm),
			{MatchPattern: &matcherv3.ValueMatcher_ListMatch{ListMatch: &matcherv3.ListMatcher{
				MatchPattern: &matcherv3.ListMatcher_OneOf{OneOf: stringValue(sm)},
			}}},
		},
	}}}
}

// claimPrincipal matches claim path (e.g. ["groups"] or ["a", "b"]) against
// value v, either as a string or as one element of a list.
func claimPrincipal(path []string, v string) *rbacv3.Principal {
	return payloadMatcher(path, stringOrListValue(istioString(v, false)))
}

func issMatch(sm *matcherv3.StringMatcher) *rbacv3.Principal {
	return payloadMatcher([]string{"iss"}, stringValue(sm))
}

func subMatch(sm *matcherv3.StringMatcher) *rbacv3.Principal {
	return payloadMatcher([]string{"sub"}, stringValue(sm))
}

// requestPrincipal matches Istio's request principal "<iss>/<sub>" against
// the verified payload, following istiod >= 1.22 (requestPrincipalGenerator
// in pilot/pkg/security/authz/model/generator.go): the value is split at its
// LAST "/" (issuers are often URLs) and every form tests BOTH claims, iss
// AND sub. "any" below means present and non-empty (regex ".+"):
//
//	"*"          iss any; sub is NOT tested (see below)
//	"i/s"        iss == "i" and sub == "s"
//	"v" (no "/") iss == "v" and sub == "" (an empty, present sub claim)
//	"i/*"        iss == "i" and sub any
//	"i/p*"       iss == "i" and sub starts with "p"
//	"p*" (no /)  iss starts with "p" and sub any
//	"*/s"        iss any and sub == "s"
//	"*x/s"       iss ends with "x" and sub == "s"
//	"*x" (no /)  iss any and sub ends with "x"
//
// So "i/*" requires iss to be exactly "i": a token of issuer "i/partners"
// does not pass "i/*" (jwtgate before round 3 also accepted any iss
// starting with "i/"). The one deliberate difference from istiod: "*" only
// requires a non-empty iss, not a sub claim, because the managed-Istio
// guide this project follows (seed) lets a token without sub through
// requestPrincipals: ["*"]. Every verified JWT has an iss, so "*" means
// "any valid token".
func requestPrincipal(v string) (*rbacv3.Principal, error) {
	if v == "*" {
		return issMatch(nonEmptyString()), nil
	}
	iss, sub, found := v, "", false
	if i := strings.LastIndex(v, "/"); i >= 0 {
		iss, sub, found = v[:i], v[i+1:], true
	}
	var matchIss, matchSub *matcherv3.StringMatcher
	switch {
	case strings.HasPrefix(v, "*"):
		switch {
		case !found:
			matchIss, matchSub = nonEmptyString(), suffixString(v[1:])
		case iss == "*":
			matchIss, matchSub = nonEmptyString(), exactString(sub)
		default:
			matchIss, matchSub = suffixString(iss[1:]), exactString(sub)
		}
	case strings.HasSuffix(v, "*"):
		switch {
		case !found:
			matchIss, matchSub = prefixString(v[:len(v)-1]), nonEmptyString()
		case sub == "*":
			matchIss, matchSub = exactString(iss), nonEmptyString()
		default:
			matchIss, matchSub = exactString(iss), prefixString(sub[:len(sub)-1])
		}
	default:
		matchIss, matchSub = exactString(iss), exactString(sub)
	}
	return andIDs([]*rbacv3.Principal{issMatch(matchIss), subMatch(matchSub)}), nil
}

// nonEmptyString matches any non-empty value (regex ".+"), like Istio's "*".
func nonEmptyString() *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: ".+"}}}
}

// prefixString is a prefix matcher.
func prefixString(p string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: p}}
}

// suffixString is a suffix matcher.
func suffixString(s string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: s}}
}
