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
// the verified payload. The principal is split at its LAST "/" (issuers are
// often URLs; a subject is assumed to contain no "/"):
//
//	"*"          iss present and non-empty
//	"i/s"        iss == "i" and sub == "s" (no "/" at all: never matches)
//	"x*"         the principal starts with x: iss starts with x, or, when
//	             x contains "/", iss == x up to its last "/" and sub starts
//	             with the rest ("i/*" means iss == "i" and any sub)
//	"*x"         the principal ends with x: without "/" in x, sub ends with
//	             x; with "/", iss ends with x up to its last "/" and sub ==
//	             the rest
//
// A prefix/suffix test on sub requires the sub claim to be present.
func requestPrincipal(v string) (*rbacv3.Principal, error) {
	switch {
	case v == "*":
		return issMatch(istioString("*", false)), nil
	case strings.HasSuffix(v, "*"):
		x := v[:len(v)-1]
		prefixIss := issMatch(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: x}})
		i := strings.LastIndex(x, "/")
		if i < 0 {
			return prefixIss, nil
		}
		split := andIDs([]*rbacv3.Principal{issMatch(exactString(x[:i])), subMatch(prefixOrAny(x[i+1:]))})
		return orIDs([]*rbacv3.Principal{prefixIss, split}), nil
	case strings.HasPrefix(v, "*"):
		x := v[1:]
		i := strings.LastIndex(x, "/")
		if i < 0 {
			return subMatch(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: x}}), nil
		}
		return andIDs([]*rbacv3.Principal{issMatch(suffixOrAny(x[:i])), subMatch(exactString(x[i+1:]))}), nil
	}
	i := strings.LastIndex(v, "/")
	if i < 0 {
		return neverID(), nil
	}
	return andIDs([]*rbacv3.Principal{issMatch(exactString(v[:i])), subMatch(exactString(v[i+1:]))}), nil
}

// prefixOrAny is a prefix matcher, or "any value" (regex ".*") for "".
func prefixOrAny(p string) *matcherv3.StringMatcher {
	if p == "" {
		return anyString()
	}
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: p}}
}

// suffixOrAny is a suffix matcher, or "any value" for "".
func suffixOrAny(s string) *matcherv3.StringMatcher {
	if s == "" {
		return anyString()
	}
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: s}}
}

func anyString() *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: ".*"}}}
}
