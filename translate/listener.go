package translate

import (
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// hcmFilterName is Envoy's HTTP connection manager network filter.
const hcmFilterName = "envoy.filters.network.http_connection_manager"

// listenerName is the name of the listener on an address and Envoy port,
// as Istio names them: "0.0.0.0_8080", "::_8080".
func listenerName(addr string, port uint32) string {
	return fmt.Sprintf("%s_%d", addr, port)
}

// buildListener is the listener on opts.ListenerAddress:port with one HTTP
// connection manager that takes its routes from RDS over ADS, and the edge
// buffer limit (hardening.go). On "::" it also accepts IPv4 (ipv4_compat),
// so "::" means every address as "0.0.0.0" does for IPv4.
func buildListener(port uint32, c *chain, opts Options) (*listenerv3.Listener, error) {
	h, err := connectionManager(port, c, opts)
	if err != nil {
		return nil, err
	}
	a, err := anyOf(h)
	if err != nil {
		return nil, err
	}
	addr := socketAddress(opts.ListenerAddress, port)
	if opts.ListenerAddress == "::" {
		addr.GetSocketAddress().Ipv4Compat = true
	}
	return &listenerv3.Listener{
		Name:                          listenerName(opts.ListenerAddress, port),
		Address:                       addr,
		PerConnectionBufferLimitBytes: wrapperspb.UInt32(connectionBufferLimit),
		FilterChains: []*listenerv3.FilterChain{{
			Filters: []*listenerv3.Filter{{
				Name:       hcmFilterName,
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: a},
			}},
		}},
	}, nil
}

// connectionManager is the hardened HTTP connection manager.
//
// Path hardening, so that a path rule sees the path the upstream sees:
//   - normalize_path: RFC 3986 normalization; removes "." and ".."
//     segments and decodes percent-encoded unreserved characters, so
//     "/a/%2e%2e/b" and "/a/../b" both become "/b".
//   - merge_slashes: "//admin" becomes "/admin".
//   - path_with_escaped_slashes_action UNESCAPE_AND_REDIRECT: a path with
//     %2F or %5C is answered with a redirect to its unescaped form, so it
//     is never routed or authorized in its escaped form.
//   - "#": Envoy 1.40 answers 400 to a request whose path holds a
//     fragment ("/admin#x", "/a#/../admin"), and url_path never sees one.
//   - ";": Envoy 1.40 has no option to strip path parameters, so
//     "/admin;x=1" reaches rbac and the upstream as it is, and Java servlet
//     containers serve it as "/admin". The path rules handle it instead
//     (pathparams.go): where a match denies or narrows access (paths in
//     DENY/AUDIT, notPaths in ALLOW) a value also matches its variants with
//     ";params" on any segment, and any path with a "." or ".." segment
//     carrying parameters; where a match grants access, exact values stay
//     exact and prefix/suffix values do not match a path with ";".
//     normalize_path resolves a literal "..;" like ".." ("/a/..;/admin"
//     becomes "/admin"), but not "%2e%2e;", which it decodes afterwards.
//
// use_remote_address makes Envoy the edge: it sets X-Forwarded-For and
// X-Forwarded-Proto itself and computes the client address with
// xff_num_trusted_hops. When some rbac denial depends on the token and
// opts.NoTokenStatus is 401, a tokenless denial becomes a 401 challenge
// (localreply.go). hardenEdge adds Envoy's edge-proxy limits and timeouts.
func connectionManager(port uint32, c *chain, opts Options) (*hcmv3.HttpConnectionManager, error) {
	h := &hcmv3.HttpConnectionManager{
		StatPrefix: listenerName(opts.ListenerAddress, port),
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource: &corev3.ConfigSource{
				ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
				ResourceApiVersion:    corev3.ApiVersion_V3,
			},
			RouteConfigName: routeConfigName(port),
		}},
		HttpFilters:                  c.filters,
		NormalizePath:                wrapperspb.Bool(true),
		MergeSlashes:                 true,
		PathWithEscapedSlashesAction: hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT,
		UseRemoteAddress:             wrapperspb.Bool(true),
		XffNumTrustedHops:            opts.XFFNumTrustedHops,
	}
	hardenEdge(h, opts)
	if len(c.challenge) > 0 && opts.NoTokenStatus == 401 {
		lr, err := noTokenReply(c.challenge)
		if err != nil {
			return nil, err
		}
		h.LocalReplyConfig = lr
	}
	return h, nil
}
