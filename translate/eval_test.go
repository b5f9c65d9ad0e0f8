package translate

import (
	"regexp"
	"strings"
	"testing"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// evalPrincipal evaluates the subset of Envoy RBAC principals translate
// emits for JWT payloads (any, and_ids, or_ids, not_id, sourced_metadata on
// jwt_authn's payload with string, list one_of and or matchers) against a
// verified payload, the way Envoy does: a missing path never matches, a
// safe_regex must match the whole value. nil payload = no token.
func evalPrincipal(t *testing.T, p *rbacv3.Principal, payload map[string]any) bool {
	t.Helper()
	switch id := p.GetIdentifier().(type) {
	case *rbacv3.Principal_Any:
		return id.Any
	case *rbacv3.Principal_AndIds:
		for _, c := range id.AndIds.GetIds() {
			if !evalPrincipal(t, c, payload) {
				return false
			}
		}
		return true
	case *rbacv3.Principal_OrIds:
		for _, c := range id.OrIds.GetIds() {
			if evalPrincipal(t, c, payload) {
				return true
			}
		}
		return false
	case *rbacv3.Principal_NotId:
		return !evalPrincipal(t, id.NotId, payload)
	case *rbacv3.Principal_SourcedMetadata:
		m := id.SourcedMetadata.GetMetadataMatcher()
		if m.GetFilter() != jwtFilterName || id.SourcedMetadata.GetMetadataSource() != rbacv3.MetadataSource_DYNAMIC {
			t.Fatalf("unexpected metadata matcher %v", m)
		}
		var v any = map[string]any{payloadKey: payload}
		if payload == nil {
			return false
		}
		for _, seg := range m.GetPath() {
			obj, ok := v.(map[string]any)
			if !ok {
				return false
			}
			if v, ok = obj[seg.GetKey()]; !ok {
				return false
			}
		}
		return evalValue(t, m.GetValue(), v)
	}
	t.Fatalf("evalPrincipal: unsupported principal %v", p)
	return false
}

func evalValue(t *testing.T, m *matcherv3.ValueMatcher, v any) bool {
	t.Helper()
	switch mp := m.GetMatchPattern().(type) {
	case *matcherv3.ValueMatcher_StringMatch:
		s, ok := v.(string)
		return ok && evalString(t, mp.StringMatch, s)
	case *matcherv3.ValueMatcher_ListMatch:
		l, ok := v.([]any)
		if !ok {
			return false
		}
		for _, e := range l {
			if evalValue(t, mp.ListMatch.GetOneOf(), e) {
				return true
			}
		}
		return false
	case *matcherv3.ValueMatcher_OrMatch:
		for _, c := range mp.OrMatch.GetValueMatchers() {
			if evalValue(t, c, v) {
				return true
			}
		}
		return false
	}
	t.Fatalf("evalValue: unsupported matcher %v", m)
	return false
}

func evalString(t *testing.T, m *matcherv3.StringMatcher, s string) bool {
	t.Helper()
	if m.GetIgnoreCase() {
		t.Fatalf("evalString: ignore_case not expected on JWT claims")
	}
	switch mp := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return s == mp.Exact
	case *matcherv3.StringMatcher_Prefix:
		return strings.HasPrefix(s, mp.Prefix)
	case *matcherv3.StringMatcher_Suffix:
		return strings.HasSuffix(s, mp.Suffix)
	case *matcherv3.StringMatcher_SafeRegex:
		return regexp.MustCompile(`^(?:` + mp.SafeRegex.GetRegex() + `)$`).MatchString(s)
	}
	t.Fatalf("evalString: unsupported matcher %v", m)
	return false
}
