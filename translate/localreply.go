package translate

import (
	"strings"

	celv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/filters/cel/v3"

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

// celFilterName is Envoy's CEL access log filter extension.
const celFilterName = "envoy.access_loggers.extension_filters.cel"

// challengeCEL is a CEL expression that is true when the response code
// details are one of details (rbac denials a token could have avoided).
func challengeCEL(details []string) string {
	quoted := make([]string, len(details))
	for i, d := range details {
		quoted[i] = "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(d) + "'"
	}
	return "response.code_details in [" + strings.Join(quoted, ", ") + "]"
}

// noTokenBody is jwt_authn's own body for a missing token.
const noTokenBody = "Jwt is missing"

// noTokenReply turns an rbac denial of a request that carries no verified
// JWT into 401 with a Bearer challenge (DESIGN "Responses").
//
// Checked against Envoy 1.40: an rbac denial sets no response flag
// (RESPONSE_FLAGS "-"; the ResponseFlagFilter has no RBAC flag), and the
// rbac filter writes its envoy.filters.http.rbac/enforced_engine_result
// metadata only after the local reply is built, so neither can select it.
// Its response code details ("rbac_access_denied_matched_policy[...]") are
// set before, so a CEL filter on response.code_details selects exactly the
// rbac denials a token could have avoided (details, see tokenDenials): an
// ALLOW filter that matched no policy ("[none]") when an ALLOW rule tests
// the token, or a DENY rule that tests the token. The mapper also requires that jwt_authn wrote no "payload"
// metadata (no token was verified). A valid token that is denied keeps
// Envoy's 403 "RBAC: access denied"; jwt_authn's own 401/403 replies (bad
// token, audience mismatch) are untouched.
func noTokenReply(details []string) (*hcmv3.LocalReplyConfig, error) {
	rbacDeniedExpr, err := anyOf(&celv3.ExpressionFilter{Expression: challengeCEL(details)})
	if err != nil {
		return nil, err
	}
	rbacDenied := &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_ExtensionFilter{
		ExtensionFilter: &accesslogv3.ExtensionFilter{
			Name:       celFilterName,
			ConfigType: &accesslogv3.ExtensionFilter_TypedConfig{TypedConfig: rbacDeniedExpr},
		},
	}}
	noPayload := &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_MetadataFilter{
		MetadataFilter: &accesslogv3.MetadataFilter{
			Matcher: &matcherv3.MetadataMatcher{
				Filter: jwtFilterName,
				Path:   []*matcherv3.MetadataMatcher_PathSegment{{Segment: &matcherv3.MetadataMatcher_PathSegment_Key{Key: payloadKey}}},
				// The access log metadata filter ignores invert: it answers
				// match_if_key_not_found when the key is absent, else the
				// value matcher. A payload is a struct, never null, so
				// null_match makes "payload present" false.
				Value: &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_NullMatch_{NullMatch: &matcherv3.ValueMatcher_NullMatch{}}},
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
	}}}, nil
}
