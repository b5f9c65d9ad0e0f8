package translate

import (
	"slices"
	"strings"

	"github.com/jwtgate/jwtgate/policies"
)

// boundServer is one Gateway server that listens on a port.
type boundServer struct {
	gateway *policies.Gateway
	server  policies.Server
}

// portServers is every selected HTTP server on one Gateway port number.
type portServers struct {
	number  uint32
	servers []boundServer
}

// gatewaySelected reports whether Gateway g is served by the gateway with
// identity id. Like Istio's default (PILOT_SCOPE_GATEWAY_TO_NAMESPACE off),
// the selector is matched against the labels in any namespace; an empty
// selector selects every gateway.
func gatewaySelected(g *policies.Gateway, id policies.Identity) bool {
	sel := policies.WorkloadSelector{MatchLabels: g.Spec.Selector}
	return sel.Matches(id.Labels)
}

// gatewayPorts groups the HTTP servers of every Gateway selected for id by
// port number, sorted by port; servers keep Set order (namespace, name) and
// their order inside the Gateway. Other protocols are ignored here (the
// policies package rejects them).
func gatewayPorts(set *policies.Set, id policies.Identity) []portServers {
	byPort := map[uint32][]boundServer{}
	for _, g := range set.Gateways {
		if !gatewaySelected(g, id) {
			continue
		}
		for _, s := range g.Spec.Servers {
			if !strings.EqualFold(s.Port.Protocol, "HTTP") {
				continue
			}
			byPort[s.Port.Number] = append(byPort[s.Port.Number], boundServer{gateway: g, server: s})
		}
	}
	var out []portServers
	for _, n := range slices.Sorted(mapKeys(byPort)) {
		out = append(out, portServers{number: n, servers: byPort[n]})
	}
	return out
}

// policyApplies reports whether a security policy (RequestAuthentication or
// AuthorizationPolicy) in namespace ns with selector sel applies to the
// gateway with identity id. This is Istio's rule: "The selector will match
// with workloads in the same namespace as the policy. If the policy is in
// the root namespace, the selector will additionally match with workloads in
// all namespaces." So a root-namespace policy applies to every gateway whose
// labels it selects (all gateways when it has no selector), and a policy in
// any other namespace only to gateways in that namespace whose labels it
// selects.
func policyApplies(ns string, sel *policies.WorkloadSelector, id policies.Identity, root string) bool {
	if ns != root && ns != id.Namespace {
		return false
	}
	return sel.Matches(id.Labels)
}

// identityNamespace is id's namespace, defaulting like the bootstrap does.
func identityNamespace(id policies.Identity) policies.Identity {
	if id.Namespace == "" {
		id.Namespace = policies.DefaultRootNamespace
	}
	return id
}

// bindsGateway reports whether VirtualService vs names Gateway g in its
// gateways list: "name" means "<vs namespace>/name", "ns/name" is explicit.
// A VirtualService without gateways binds only the mesh, never a Gateway.
func bindsGateway(vs *policies.VirtualService, g *policies.Gateway) bool {
	for _, ref := range vs.Spec.Gateways {
		ns, name, ok := strings.Cut(ref, "/")
		if !ok {
			ns, name = vs.Metadata.Namespace, ref
		}
		if ns == g.Metadata.Namespace && name == g.Metadata.Name {
			return true
		}
	}
	return false
}
