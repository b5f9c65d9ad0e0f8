package translate

import (
	"fmt"
	"net/netip"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// istioString is Istio's string match for authorization values: "*" is
// any non-empty value, "x*" a prefix, "*x" a suffix, anything else exact.
func istioString(v string, ignoreCase bool) *matcherv3.StringMatcher {
	sm := &matcherv3.StringMatcher{IgnoreCase: ignoreCase}
	switch {
	case v == "*":
		sm.IgnoreCase = false
		sm.MatchPattern = &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: ".+"}}
	case strings.HasPrefix(v, "*"):
		sm.MatchPattern = &matcherv3.StringMatcher_Suffix{Suffix: v[1:]}
	case strings.HasSuffix(v, "*"):
		sm.MatchPattern = &matcherv3.StringMatcher_Prefix{Prefix: v[:len(v)-1]}
	default:
		sm.MatchPattern = &matcherv3.StringMatcher_Exact{Exact: v}
	}
	return sm
}

// exactString is an exact string matcher.
func exactString(v string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: v}}
}

// headerMatcher matches a request header with Istio's value syntax; "*"
// means the header is present.
func headerMatcher(name, v string, ignoreCase bool) *routev3.HeaderMatcher {
	hm := &routev3.HeaderMatcher{Name: name}
	if v == "*" {
		hm.HeaderMatchSpecifier = &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}
	} else {
		hm.HeaderMatchSpecifier = &routev3.HeaderMatcher_StringMatch{StringMatch: istioString(v, ignoreCase)}
	}
	return hm
}

// cidr parses "1.2.3.0/24" or a bare address (a /32 or /128).
func cidr(s string) (*corev3.CidrRange, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return &corev3.CidrRange{AddressPrefix: a.String(), PrefixLen: wrapperspb.UInt32(uint32(a.BitLen()))}, nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return nil, fmt.Errorf("bad IP block %q", s)
	}
	return &corev3.CidrRange{AddressPrefix: p.Addr().String(), PrefixLen: wrapperspb.UInt32(uint32(p.Bits()))}, nil
}

// ----------------------------------------------------------- combinators

func anyID() *rbacv3.Principal {
	return &rbacv3.Principal{Identifier: &rbacv3.Principal_Any{Any: true}}
}

func notID(p *rbacv3.Principal) *rbacv3.Principal {
	return &rbacv3.Principal{Identifier: &rbacv3.Principal_NotId{NotId: p}}
}

// neverID matches no request.
func neverID() *rbacv3.Principal { return notID(anyID()) }

// andIDs is the AND of ps: any when empty, the element itself when single.
func andIDs(ps []*rbacv3.Principal) *rbacv3.Principal {
	switch len(ps) {
	case 0:
		return anyID()
	case 1:
		return ps[0]
	}
	return &rbacv3.Principal{Identifier: &rbacv3.Principal_AndIds{AndIds: &rbacv3.Principal_Set{Ids: ps}}}
}

// orIDs is the OR of ps (never empty), the element itself when single.
func orIDs(ps []*rbacv3.Principal) *rbacv3.Principal {
	if len(ps) == 1 {
		return ps[0]
	}
	return &rbacv3.Principal{Identifier: &rbacv3.Principal_OrIds{OrIds: &rbacv3.Principal_Set{Ids: ps}}}
}

func anyPerm() *rbacv3.Permission {
	return &rbacv3.Permission{Rule: &rbacv3.Permission_Any{Any: true}}
}

func notPerm(p *rbacv3.Permission) *rbacv3.Permission {
	return &rbacv3.Permission{Rule: &rbacv3.Permission_NotRule{NotRule: p}}
}

// andPerms is the AND of ps: any when empty, the element itself when single.
func andPerms(ps []*rbacv3.Permission) *rbacv3.Permission {
	switch len(ps) {
	case 0:
		return anyPerm()
	case 1:
		return ps[0]
	}
	return &rbacv3.Permission{Rule: &rbacv3.Permission_AndRules{AndRules: &rbacv3.Permission_Set{Rules: ps}}}
}

// orPerms is the OR of ps (never empty), the element itself when single.
func orPerms(ps []*rbacv3.Permission) *rbacv3.Permission {
	if len(ps) == 1 {
		return ps[0]
	}
	return &rbacv3.Permission{Rule: &rbacv3.Permission_OrRules{OrRules: &rbacv3.Permission_Set{Rules: ps}}}
}

// fieldIDs adds to and the principal for one Source field: OR over values,
// negated for the notX form. Empty values add nothing.
func fieldIDs(and []*rbacv3.Principal, values []string, negate bool, one func(string) (*rbacv3.Principal, error)) ([]*rbacv3.Principal, error) {
	return orField(and, values, negate, one, orIDs, notID)
}

// fieldPerms is fieldIDs for Operation fields.
func fieldPerms(and []*rbacv3.Permission, values []string, negate bool, one func(string) (*rbacv3.Permission, error)) ([]*rbacv3.Permission, error) {
	return orField(and, values, negate, one, orPerms, notPerm)
}

// orField is fieldIDs and fieldPerms, with or and not for their rule type.
func orField[R any](and []R, values []string, negate bool, one func(string) (R, error), or func([]R) R, not func(R) R) ([]R, error) {
	if len(values) == 0 {
		return and, nil
	}
	var rs []R
	for _, v := range values {
		r, err := one(v)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	r := or(rs)
	if negate {
		r = not(r)
	}
	return append(and, r), nil
}
