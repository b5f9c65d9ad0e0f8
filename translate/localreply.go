package translate

import (
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// noTokenRealm is the RFC 6750 challenge for a request without a token. It
// rebuilds the URL the way jwt_authn does for its own invalid_token
// challenge (checked against Envoy 1.40): scheme from X-Forwarded-Proto
// (set by this Envoy because use_remote_address is on), the authority, and
// the path including the query string, as Envoy's own realm includes it.
const noTokenRealm = `Bearer realm="%REQ(X-FORWARDED-PROTO)%://%REQ(:AUTHORITY)%%REQ(:PATH)%"`

// noTokenBody is jwt_authn's own body for a missing token.
const noTokenBody = "Jwt is missing"

// noTokenReply turns an rbac denial of a request that carries no verified
// JWT into 401 with a Bearer challenge (DESIGN "Responses").
//
// Envoy sets no response flag for an rbac denial (verified against Envoy
// 1.40: RESPONSE_FLAGS is "-", details "rbac_access_denied_matched_policy[..]"),
// but every enforcing rbac filter writes dynamic metadata
// envoy.filters.http.rbac/enforced_engine_result, and the filter that denies
// ends the chain, so "denied" there identifies an rbac denial. The mapper
// matches when that holds and jwt_authn wrote no "payload" metadata (no
// token was verified). A valid token that is denied keeps Envoy's 403
// "RBAC: access denied"; jwt_authn's own 401/403 replies (bad token,
// audience mismatch) are untouched because no rbac filter ran.
func noTokenReply() *hcmv3.LocalReplyConfig {
	rbacDenied := &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_MetadataFilter{
		MetadataFilter: &accesslogv3.MetadataFilter{
			Matcher: &matcherv3.MetadataMatcher{
				Filter: rbacFilterName,
				Path:   []*matcherv3.MetadataMatcher_PathSegment{{Segment: &matcherv3.MetadataMatcher_PathSegment_Key{Key: "enforced_engine_result"}}},
				Value:  &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_StringMatch{StringMatch: exactString("denied")}},
			},
			MatchIfKeyNotFound: wrapperspb.Bool(false),
		},
	}}
	noPayload := &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_MetadataFilter{
		MetadataFilter: &accesslogv3.MetadataFilter{
			Matcher: &matcherv3.MetadataMatcher{
				Filter: jwtFilterName,
				Path:   []*matcherv3.MetadataMatcher_PathSegment{{Segment: &matcherv3.MetadataMatcher_PathSegment_Key{Key: payloadKey}}},
				Value:  &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_PresentMatch{PresentMatch: true}},
				Invert: true,
			},
			MatchIfKeyNotFound: wrapperspb.Bool(true),
		},
	}}
	return &hcmv3.LocalReplyConfig{Mappers: []*hcmv3.ResponseMapper{{
		Filter: &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_AndFilter{
			AndFilter: &accesslogv3.AndFilter{Filters: []*accesslogv3.AccessLogFilter{rbacDenied, noPayload}},
		}},
		StatusCode: wrapperspb.UInt32(401),
		Body:       &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: noTokenBody}},
		HeadersToAdd: []*corev3.HeaderValueOption{{
			Header:       &corev3.HeaderValue{Key: "www-authenticate", Value: noTokenRealm},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		}},
	}}}
}
