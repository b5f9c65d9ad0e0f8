package translate

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jwtgate/jwtgate/jwks"
	"github.com/jwtgate/jwtgate/policies"
)

// DefaultCAFile is the CA bundle Envoy validates an https jwksUri against
// when Options.EnvoyFetchesKeys is set: the system bundle of Debian,
// Ubuntu and Alpine (and of the envoyproxy/envoy image).
const DefaultCAFile = "/etc/ssl/certs/ca-certificates.crt"

// Envoy-side key fetching (remote_jwks) settings.
const (
	// remoteJWKSCacheDuration is how long Envoy keeps fetched keys before
	// fetching again: Istio's default JWKS refresh interval.
	remoteJWKSCacheDuration = 20 * time.Minute
	// defaultJWKSTimeout bounds one fetch of a rule without "timeout".
	defaultJWKSTimeout = 5 * time.Second
	// remoteJWKSRetries, with backoff from remoteJWKSRetryBase up to
	// remoteJWKSRetryMax, are the retries of one failed fetch (connect
	// failure, reset, 5xx). After they fail, async_fetch fetches again
	// after failed_refetch_duration (Envoy's default, 1s).
	remoteJWKSRetries   = 3
	remoteJWKSRetryBase = 500 * time.Millisecond
	remoteJWKSRetryMax  = 5 * time.Second
	// tlsTransportSocket is Envoy's TLS transport socket.
	tlsTransportSocket = "envoy.transport_sockets.tls"
)

// usesRemoteJWKS reports whether Envoy fetches r's keys itself: only in
// Options.EnvoyFetchesKeys mode and only for a rule with jwksUri and no
// inline jwks. Rules without jwksUri need OIDC discovery, which Envoy
// cannot do, so jwtgate keeps fetching (and inlining) their keys.
func usesRemoteJWKS(r policies.JWTRule, opts Options) bool {
	return opts.EnvoyFetchesKeys && r.Jwks == "" && r.JwksURI != ""
}

// jwksUpstream is where Envoy fetches one jwksUri: one generated cluster
// per (scheme, host, port).
type jwksUpstream struct {
	scheme string // http or https
	host   string // lower case, IPv6 without brackets
	port   uint32
}

// parseJWKSUpstream checks raw with the SSRF guard's static checks (scheme,
// metadata host names, refused literal addresses; Envoy resolves names
// itself, so nothing checks resolved addresses in this mode) and returns
// its upstream.
func parseJWKSUpstream(raw string) (jwksUpstream, error) {
	if err := jwks.CheckURL(raw); err != nil {
		return jwksUpstream{}, err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return jwksUpstream{}, err
	}
	up := jwksUpstream{scheme: u.Scheme, host: strings.ToLower(u.Hostname()), port: 80}
	if u.Scheme == "https" {
		up.port = 443
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return jwksUpstream{}, fmt.Errorf("bad port %q", p)
		}
		up.port = uint32(n)
	}
	return up, nil
}

// clusterName is the generated cluster's name:
// "jwks|<host>|<port>|<scheme>".
func (u jwksUpstream) clusterName() string {
	return fmt.Sprintf("jwks|%s|%d|%s", u.host, u.port, u.scheme)
}

// remoteJWKS is the remote_jwks source of a rule Envoy fetches keys for
// (usesRemoteJWKS): the rule's URI through its generated cluster, the
// rule's timeout (default 5s), Istio's 20 minute refresh, async_fetch so
// keys are fetched on the main thread before the listener is activated
// (fast_listener false: a new listener waits for the first fetch, success
// or failure, instead of answering 401 to the first requests) and a few
// retries with backoff. A URI the SSRF guard refuses is an error: Envoy
// would fetch it without any guard.
func remoteJWKS(r policies.JWTRule) (*jwtv3.RemoteJwks, error) {
	up, err := parseJWKSUpstream(r.JwksURI)
	if err != nil {
		return nil, fmt.Errorf("translate: issuer %q: jwksUri %s: %w", r.Issuer, r.JwksURI, err)
	}
	timeout := defaultJWKSTimeout
	if d, err := time.ParseDuration(r.Timeout); err == nil && d > 0 {
		timeout = d
	}
	return &jwtv3.RemoteJwks{
		HttpUri: &corev3.HttpUri{
			Uri:              r.JwksURI,
			HttpUpstreamType: &corev3.HttpUri_Cluster{Cluster: up.clusterName()},
			Timeout:          durationpb.New(timeout),
		},
		CacheDuration: durationpb.New(remoteJWKSCacheDuration),
		AsyncFetch:    &jwtv3.JwksAsyncFetch{FastListener: false},
		RetryPolicy: &corev3.RetryPolicy{
			RetryBackOff: &corev3.BackoffStrategy{
				BaseInterval: durationpb.New(remoteJWKSRetryBase),
				MaxInterval:  durationpb.New(remoteJWKSRetryMax),
			},
			NumRetries: wrapperspb.UInt32(remoteJWKSRetries),
		},
	}, nil
}

// addRemoteJWKS adds the generated cluster of every rule Envoy fetches keys
// for (usesRemoteJWKS), one per (scheme, host, port), next to the route
// clusters (clusterSet sorts and deduplicates them by name). The cluster
// is built like a route cluster (STRICT_DNS, STATIC for an IP literal or a
// Resolve override, which must not name an address the SSRF guard
// refuses); an https one gets TLS with SNI and certificate validation
// against opts.CAFile and the URI's host.
func (c *clusterSet) addRemoteJWKS(rules []policies.JWTRule, opts Options) error {
	for _, r := range rules {
		if !usesRemoteJWKS(r, opts) {
			continue
		}
		up, err := parseJWKSUpstream(r.JwksURI)
		if err != nil {
			return fmt.Errorf("translate: issuer %q: jwksUri %s: %w", r.Issuer, r.JwksURI, err)
		}
		name := up.clusterName()
		if _, ok := c.byName[name]; ok {
			continue
		}
		if res, ok := c.resolve[up.host]; ok {
			ip, _, err := parseResolve(res, up.port)
			if err != nil {
				return fmt.Errorf("translate: resolve %s=%q: %w", up.host, res, err)
			}
			if err := jwks.CheckAddr(netip.MustParseAddr(ip)); err != nil {
				return fmt.Errorf("translate: issuer %q: jwksUri %s: resolve %s=%s: %w", r.Issuer, r.JwksURI, up.host, res, err)
			}
		}
		cl, err := buildCluster(name, up.host, up.port, c.resolve)
		if err != nil {
			return err
		}
		if up.scheme == "https" {
			ts, err := upstreamTLS(up.host, opts.CAFile)
			if err != nil {
				return err
			}
			cl.TransportSocket = ts
		}
		c.byName[name] = cl
	}
	return nil
}

// upstreamTLS is the transport socket of an https key cluster: SNI = host
// (not for an IP literal, RFC 6066 §3), the chain validated against
// caFile, and the certificate's subject alternative names matched against
// host (Envoy checks names only when a SAN matcher is set; for a DNS SAN
// an exact matcher also accepts a matching wildcard certificate, RFC 6125
// §6.4.3).
func upstreamTLS(host, caFile string) (*corev3.TransportSocket, error) {
	host = strings.TrimSuffix(host, ".")
	san := &tlsv3.SubjectAltNameMatcher{
		SanType: tlsv3.SubjectAltNameMatcher_DNS,
		Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: host}},
	}
	sni := host
	if a, err := netip.ParseAddr(host); err == nil {
		san.SanType = tlsv3.SubjectAltNameMatcher_IP_ADDRESS
		san.Matcher = &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: a.String()}}
		sni = ""
	}
	ctx := &tlsv3.UpstreamTlsContext{
		Sni: sni,
		CommonTlsContext: &tlsv3.CommonTlsContext{
			ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{
				ValidationContext: &tlsv3.CertificateValidationContext{
					TrustedCa: &corev3.DataSource{
						Specifier: &corev3.DataSource_Filename{Filename: caFile},
					},
					MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{san},
				},
			},
		},
	}
	a, err := anyOf(ctx)
	if err != nil {
		return nil, err
	}
	return &corev3.TransportSocket{
		Name:       tlsTransportSocket,
		ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: a},
	}, nil
}
