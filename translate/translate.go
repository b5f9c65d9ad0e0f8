// Package translate turns a policies.Set into Envoy resources for one
// gateway. It is pure and deterministic: no I/O, no clock, same input gives
// byte-identical output.
//
// The pipeline per gateway identity is: pick the Gateways whose selector
// matches (scope.go), build one hardened listener per HTTP port
// (listener.go, hardening.go) with the HTTP filter chain header_mutation
// (strips client copies of the headers jwt_authn writes, stripheaders.go),
// jwt_authn, rbac AUDIT/DENY/ALLOW, router (jwt.go, rbac.go), its route
// configuration from the bound VirtualServices (route.go) and the clusters
// those routes name (cluster.go), plus, when Envoy fetches keys itself,
// the clusters of the key servers (remotejwks.go).
package translate

import (
	"fmt"
	"net/netip"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/jwtgate/jwtgate/policies"
)

// DefaultServerName is the server response header value, as Istio's
// gateways send it.
const DefaultServerName = "istio-envoy"

// DefaultListenerAddress is the address every listener binds by default:
// all IPv4 addresses, as an Istio gateway's listeners.
const DefaultListenerAddress = "0.0.0.0"

// Options are the settings that shape translation (from flags/env).
type Options struct {
	// RootNamespace: a security policy there without selector applies to all
	// gateways. Default policies.DefaultRootNamespace.
	RootNamespace string
	// ListenerAddress is the IP address every listener binds (an IP literal
	// without zone: "0.0.0.0", "127.0.0.1", "::"); it also names the
	// listeners, Istio style: "<address>_<port>". "::" binds IPv6 and IPv4
	// (ipv4_compat). Default DefaultListenerAddress. Translate rejects
	// anything else; cmd checks it at startup with CheckListenerAddress.
	ListenerAddress string
	// PortOffset is added to every Gateway server port for the Envoy listener
	// (80 + 8000 = 8080), so local runs need no root. Default 0.
	PortOffset int32
	// Resolve maps a destination host to "IP" or "IP:PORT" (like curl
	// --resolve); the cluster then becomes STATIC at that address.
	Resolve map[string]string
	// NoTokenStatus is the status for a request without a token that
	// authorization requires one: 401 (default, with a Bearer realm
	// challenge) or 403 (Istio's answer).
	NoTokenStatus uint32
	// ServerName is the HTTP connection manager's server_name: the value of
	// the server response header, which Envoy sets on every response
	// (replacing the upstream's, server_header_transformation OVERWRITE).
	// Default DefaultServerName.
	ServerName string
	// XFFNumTrustedHops for the HTTP connection manager; default 0.
	XFFNumTrustedHops uint32
	// JWKS maps a jwksUri to the JWKS JSON fetched for it.
	JWKS map[string]string
	// FailClosedJWKS is inlined for a jwksUri with no entry in JWKS: a
	// public key whose private half was never kept, so every token fails.
	FailClosedJWKS string
	// EnvoyFetchesKeys makes Envoy fetch the keys of every rule with
	// jwksUri (and no inline jwks) itself: remote_jwks through a generated
	// cluster per (scheme, host, port), instead of keys from JWKS. Rules
	// without jwksUri (OIDC discovery) still take their keys from JWKS.
	// A jwksUri whose host is a literal link-local, metadata or otherwise
	// refused address, or a metadata host name, is an error (Envoy fetches
	// without jwtgate's SSRF guard).
	EnvoyFetchesKeys bool
	// CAFile is the CA bundle Envoy validates https key servers against
	// when EnvoyFetchesKeys is set. Default DefaultCAFile.
	CAFile string
}

// Resources is everything one gateway needs, each slice sorted by name.
type Resources struct {
	Listeners []*listenerv3.Listener
	Routes    []*routev3.RouteConfiguration
	Clusters  []*clusterv3.Cluster
}

// withDefaults returns opts with zero values replaced by the defaults.
func (o Options) withDefaults() Options {
	if o.RootNamespace == "" {
		o.RootNamespace = policies.DefaultRootNamespace
	}
	if o.ServerName == "" {
		o.ServerName = DefaultServerName
	}
	if o.ListenerAddress == "" {
		o.ListenerAddress = DefaultListenerAddress
	}
	if o.NoTokenStatus == 0 {
		o.NoTokenStatus = 401
	}
	if o.CAFile == "" {
		o.CAFile = DefaultCAFile
	}
	return o
}

// Translate builds the resources for the gateway with identity id.
func Translate(set *policies.Set, id policies.Identity, opts Options) (*Resources, error) {
	if set == nil {
		return nil, fmt.Errorf("translate: nil policy set")
	}
	opts = opts.withDefaults()
	id = identityNamespace(id)
	if opts.NoTokenStatus != 401 && opts.NoTokenStatus != 403 {
		return nil, fmt.Errorf("translate: no-token status must be 401 or 403, got %d", opts.NoTokenStatus)
	}
	addr, err := CheckListenerAddress(opts.ListenerAddress)
	if err != nil {
		return nil, fmt.Errorf("translate: %w", err)
	}
	opts.ListenerAddress = addr

	filters, err := httpFilters(set, id, opts)
	if err != nil {
		return nil, err
	}

	res := &Resources{}
	clusters := newClusterSet(opts)
	for _, p := range gatewayPorts(set, id) {
		shifted := int64(p.number) + int64(opts.PortOffset)
		if shifted <= 0 || shifted > 65535 {
			return nil, fmt.Errorf("translate: gateway port %d with offset %d is out of range", p.number, opts.PortOffset)
		}
		port := uint32(shifted)
		rc, err := buildRouteConfig(set, p, port, clusters)
		if err != nil {
			return nil, err
		}
		l, err := buildListener(port, filters, opts)
		if err != nil {
			return nil, err
		}
		res.Routes = append(res.Routes, rc)
		res.Listeners = append(res.Listeners, l)
	}
	if len(res.Listeners) > 0 {
		// Key clusters only where a listener runs jwt_authn.
		if err := clusters.addRemoteJWKS(appliedJWTRules(set, id, opts.RootNamespace), opts); err != nil {
			return nil, err
		}
	}
	res.Clusters = clusters.sorted()
	sortByName(res.Listeners, func(l *listenerv3.Listener) string { return l.GetName() })
	sortByName(res.Routes, func(r *routev3.RouteConfiguration) string { return r.GetName() })
	return res, nil
}

// CheckListenerAddress checks that s is an IP literal without zone and
// returns its canonical form ("::0" becomes "::"), which names listeners.
func CheckListenerAddress(s string) (string, error) {
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" {
		return "", fmt.Errorf("listener address %q: want an IP address such as 0.0.0.0, 127.0.0.1 or ::", s)
	}
	return ip.String(), nil
}
