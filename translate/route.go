package translate

import (
	"fmt"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jwtgate/jwtgate/policies"
)

// routeConfigName is the RDS name of the route configuration for an Envoy
// listener port.
func routeConfigName(listenerPort uint32) string {
	return fmt.Sprintf("http.%d", listenerPort)
}

// buildRouteConfig builds the route configuration for one Gateway port: one
// virtual host per host that a bound VirtualService exposes on one of the
// port's servers. Routes of VirtualServices sharing a host are concatenated
// in (namespace, name) order, then the catch-all routes are moved to the
// end of the virtual host (sortVHostRoutes), like istiod, so that a
// VirtualService whose last rule matches everything does not hide the
// routes of the VirtualServices after it. Host matching ignores the port
// of the Host header (ignore_port_in_host_matching, as istiod sets on
// gateway routes). Clusters the routes use are added to clusters.
func buildRouteConfig(set *policies.Set, p portServers, listenerPort uint32, clusters *clusterSet) (*routev3.RouteConfiguration, error) {
	vss := sortedByMeta(set.VirtualServices, func(v *policies.VirtualService) policies.ObjectMeta { return v.Metadata })

	hostRoutes := map[string][]*routev3.Route{}
	for _, vs := range vss {
		hosts := vsHosts(vs, p.servers)
		if len(hosts) == 0 {
			continue
		}
		routes, err := buildRoutes(vs, clusters)
		if err != nil {
			return nil, err
		}
		for _, h := range hosts {
			hostRoutes[h] = append(hostRoutes[h], routes...)
		}
	}

	rc := &routev3.RouteConfiguration{Name: routeConfigName(listenerPort), IgnorePortInHostMatching: true}
	for _, h := range sortedKeys(hostRoutes) {
		rc.VirtualHosts = append(rc.VirtualHosts, &routev3.VirtualHost{
			Name:    fmt.Sprintf("%s:%d", h, p.number),
			Domains: domains(h),
			Routes:  sortVHostRoutes(hostRoutes[h]),
		})
	}
	sortByName(rc.VirtualHosts, func(v *routev3.VirtualHost) string { return v.GetName() })
	return rc, nil
}

// vsHosts returns the sorted, distinct hosts that vs exposes through the
// servers it binds: each VirtualService host intersected with each server
// host whose namespace part admits vs's namespace (see serverHost).
func vsHosts(vs *policies.VirtualService, servers []boundServer) []string {
	set := map[string]bool{}
	for _, bs := range servers {
		if !bindsGateway(vs, bs.gateway) {
			continue
		}
		for _, sh := range bs.server.Hosts {
			ns, host := serverHost(sh, bs.gateway.Metadata.Namespace)
			if !admitsNamespace(ns, vs.Metadata.Namespace) {
				continue
			}
			for _, vh := range vs.Spec.Hosts {
				if h := intersectHost(vh, host); h != "" {
					set[h] = true
				}
			}
		}
	}
	return sortedKeys(set)
}

// buildRoutes turns the ordered http rules of vs into Envoy routes: one
// route per match entry (entries OR), a rule without match matches prefix
// "/". Routes are named "<namespace>/<name>/<rule index>".
func buildRoutes(vs *policies.VirtualService, clusters *clusterSet) ([]*routev3.Route, error) {
	var out []*routev3.Route
	for i, hr := range vs.Spec.HTTP {
		name := fmt.Sprintf("%s/%s/%d", vs.Metadata.Namespace, vs.Metadata.Name, i)
		action, err := routeAction(hr.Route, clusters)
		if err != nil {
			return nil, fmt.Errorf("translate: VirtualService %s/%s http[%d]: %w", vs.Metadata.Namespace, vs.Metadata.Name, i, err)
		}
		matches := hr.Match
		if len(matches) == 0 {
			matches = []policies.HTTPMatchRequest{{}}
		}
		for _, m := range matches {
			out = append(out, &routev3.Route{
				Name:   name,
				Match:  routeMatch(m),
				Action: &routev3.Route_Route{Route: action},
			})
		}
	}
	return out, nil
}

// sortVHostRoutes moves the catch-all routes (isCatchAllRoute) of one
// virtual host to its end and keeps the order of the others, like istiod's
// SortVHostRoutes.
func sortVHostRoutes(routes []*routev3.Route) []*routev3.Route {
	out := make([]*routev3.Route, 0, len(routes))
	var catchAll []*routev3.Route
	for _, r := range routes {
		if isCatchAllRoute(r) {
			catchAll = append(catchAll, r)
		} else {
			out = append(out, r)
		}
	}
	return append(out, catchAll...)
}

// isCatchAllRoute reports whether r matches every request, as istiod's
// IsCatchAllRoute decides it: path prefix "/" (or path-separated prefix "/")
// or regex ".*", and no header, query parameter or metadata condition.
// Case sensitivity does not matter for these paths.
func isCatchAllRoute(r *routev3.Route) bool {
	m := r.GetMatch()
	var catchAll bool
	switch ps := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		catchAll = ps.Prefix == "/"
	case *routev3.RouteMatch_PathSeparatedPrefix:
		catchAll = ps.PathSeparatedPrefix == "/"
	case *routev3.RouteMatch_SafeRegex:
		catchAll = ps.SafeRegex.GetRegex() == ".*"
	}
	return catchAll && len(m.GetHeaders()) == 0 && len(m.GetQueryParameters()) == 0 && len(m.GetDynamicMetadata()) == 0
}

// routeMatch converts one VirtualService match condition (its fields AND).
func routeMatch(m policies.HTTPMatchRequest) *routev3.RouteMatch {
	rm := &routev3.RouteMatch{}
	switch u := m.URI; {
	case u == nil:
		rm.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: "/"}
	case u.Exact != "":
		rm.PathSpecifier = &routev3.RouteMatch_Path{Path: u.Exact}
	case u.Regex != "":
		rm.PathSpecifier = &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: u.Regex}}
	default:
		rm.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: u.Prefix}
	}
	if m.URI != nil && m.IgnoreURICase {
		rm.CaseSensitive = wrapperspb.Bool(false)
	}
	if m.Method != nil {
		rm.Headers = append(rm.Headers, headerMatch(":method", m.Method))
	}
	if m.Authority != nil {
		rm.Headers = append(rm.Headers, headerMatch(":authority", m.Authority))
	}
	for _, name := range sortedKeys(m.Headers) {
		sm := m.Headers[name]
		rm.Headers = append(rm.Headers, headerMatch(strings.ToLower(name), &sm))
	}
	return rm
}

// headerMatch matches header name against a StringMatch; an empty
// StringMatch means the header must be present.
func headerMatch(name string, sm *policies.StringMatch) *routev3.HeaderMatcher {
	hm := &routev3.HeaderMatcher{Name: name}
	if s := stringMatch(sm); s != nil {
		hm.HeaderMatchSpecifier = &routev3.HeaderMatcher_StringMatch{StringMatch: s}
	} else {
		hm.HeaderMatchSpecifier = &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}
	}
	return hm
}

// stringMatch converts a StringMatch; nil when it is empty.
func stringMatch(sm *policies.StringMatch) *matcherv3.StringMatcher {
	switch {
	case sm.Exact != "":
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: sm.Exact}}
	case sm.Prefix != "":
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: sm.Prefix}}
	case sm.Regex != "":
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: sm.Regex}}}
	}
	return nil
}

// routeAction sends to one cluster, or splits over several by weight. Like
// Istio, the route timeout is disabled (0s) instead of Envoy's 15s default.
// When every weight of a split is 0 the destinations share traffic equally.
func routeAction(dests []policies.HTTPRouteDestination, clusters *clusterSet) (*routev3.RouteAction, error) {
	if len(dests) == 0 {
		return nil, fmt.Errorf("no route destination")
	}
	ra := &routev3.RouteAction{Timeout: durationpb.New(0)}
	if len(dests) == 1 {
		name, err := clusters.add(dests[0].Destination)
		if err != nil {
			return nil, err
		}
		ra.ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: name}
		return ra, nil
	}
	allZero := true
	for _, d := range dests {
		if d.Weight < 0 {
			return nil, fmt.Errorf("negative weight %d", d.Weight)
		}
		allZero = allZero && d.Weight == 0
	}
	wc := &routev3.WeightedCluster{}
	for _, d := range dests {
		name, err := clusters.add(d.Destination)
		if err != nil {
			return nil, err
		}
		w := uint32(d.Weight)
		if allZero {
			w = 1
		}
		wc.Clusters = append(wc.Clusters, &routev3.WeightedCluster_ClusterWeight{Name: name, Weight: wrapperspb.UInt32(w)})
	}
	ra.ClusterSpecifier = &routev3.RouteAction_WeightedClusters{WeightedClusters: wc}
	return ra, nil
}
