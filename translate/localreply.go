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
// challenge: scheme from X-Forwarded-Proto (set by this Envoy because
// use_remote_address is on), the authority, and the path without query
// string.
const noTokenRealm = `Bearer realm="%REQ(X-FORWARDED-PROTO)%://%REQ(:AUTHORITY)%%PATH(NQ)%"`

// noTokenBody is jwt_authn's own body for a missing token.
const noTokenBody = "Jwt is missing"

// noTokenReply turns an rbac denial of a request that carries no verified
// JWT into 401 with a Bearer challenge (DESIGN "Responses"). It matches a
// local reply when the RBAC response flag is set and jwt_authn wrote no
// "payload" metadata (no token was verified). A request whose valid token
// is denied keeps Envoy's 403 "RBAC: access denied".
func noTokenReply() *hcmv3.LocalReplyConfig {
	rbacDenied := &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_ResponseFlagFilter{
		ResponseFlagFilter: &accesslogv3.ResponseFlagFilter{Flags: []string{"RBAC"}},
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
