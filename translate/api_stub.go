// Package translate turns a policies.Set into Envoy resources for one
// gateway. It is pure and deterministic: no I/O, no clock, same input gives
// byte-identical output.
package translate

// STUB: owned by the translate helper; replace and delete this file.

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/jwtgate/jwtgate/policies"
)

// Options are the settings that shape translation (from flags/env).
type Options struct {
	// RootNamespace: a security policy there without selector applies to all
	// gateways. Default policies.DefaultRootNamespace.
	RootNamespace string
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
	// XFFNumTrustedHops for the HTTP connection manager; default 0.
	XFFNumTrustedHops uint32
	// JWKS maps a jwksUri to the JWKS JSON fetched for it.
	JWKS map[string]string
	// FailClosedJWKS is inlined for a jwksUri with no entry in JWKS: a
	// public key whose private half was never kept, so every token fails.
	FailClosedJWKS string
}

// Resources is everything one gateway needs, each slice sorted by name.
type Resources struct {
	Listeners []*listenerv3.Listener
	Routes    []*routev3.RouteConfiguration
	Clusters  []*clusterv3.Cluster
}

// Translate builds the resources for the gateway with identity id.
func Translate(set *policies.Set, id policies.Identity, opts Options) (*Resources, error) {
	panic("unimplemented")
}
