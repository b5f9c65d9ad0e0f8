package translate

import (
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/jwtgate/jwtgate/policies"
)

func TestRouteMatch(t *testing.T) {
	tests := []struct {
		name string
		m    policies.HTTPMatchRequest
		want string
	}{
		{"empty", policies.HTTPMatchRequest{}, `{"prefix":"/"}`},
		{"exact", policies.HTTPMatchRequest{URI: &policies.StringMatch{Exact: "/a"}}, `{"path":"/a"}`},
		{"prefix ignore case", policies.HTTPMatchRequest{URI: &policies.StringMatch{Prefix: "/A"}, IgnoreURICase: true}, `{"caseSensitive":false,"prefix":"/A"}`},
		{"regex", policies.HTTPMatchRequest{URI: &policies.StringMatch{Regex: "/v[0-9]"}}, `{"safeRegex":{"regex":"/v[0-9]"}}`},
		{"method authority headers", policies.HTTPMatchRequest{
			Method:    &policies.StringMatch{Exact: "GET"},
			Authority: &policies.StringMatch{Prefix: "api."},
			Headers:   map[string]policies.StringMatch{"X-B": {Regex: "b+"}, "x-a": {}},
		}, `{"headers":[{"name":":method","stringMatch":{"exact":"GET"}},{"name":":authority","stringMatch":{"prefix":"api."}},{"name":"x-b","stringMatch":{"safeRegex":{"regex":"b+"}}},{"name":"x-a","presentMatch":true}],"prefix":"/"}`},
	}
	for _, tt := range tests {
		if got := compact(t, routeMatch(tt.m)); got != tt.want {
			t.Errorf("%s:\n got  %s\n want %s", tt.name, got, tt.want)
		}
	}
}

func TestRouteAction(t *testing.T) {
	d := func(h string, w int32) policies.HTTPRouteDestination {
		return policies.HTTPRouteDestination{Destination: policies.Destination{Host: h, Port: &policies.PortSelector{Number: 80}}, Weight: w}
	}
	tests := []struct {
		name  string
		dests []policies.HTTPRouteDestination
		want  string
	}{
		{"single", []policies.HTTPRouteDestination{d("a", 0)}, `{"cluster":"outbound|80||a","timeout":"0s"}`},
		{"weighted", []policies.HTTPRouteDestination{d("a", 75), d("b", 25)},
			`{"timeout":"0s","weightedClusters":{"clusters":[{"name":"outbound|80||a","weight":75},{"name":"outbound|80||b","weight":25}]}}`},
		{"all zero weights share equally", []policies.HTTPRouteDestination{d("a", 0), d("b", 0)},
			`{"timeout":"0s","weightedClusters":{"clusters":[{"name":"outbound|80||a","weight":1},{"name":"outbound|80||b","weight":1}]}}`},
	}
	for _, tt := range tests {
		ra, err := routeAction(tt.dests, newClusterSet(Options{}))
		if err != nil {
			t.Fatal(err)
		}
		if got := compact(t, ra); got != tt.want {
			t.Errorf("%s:\n got  %s\n want %s", tt.name, got, tt.want)
		}
	}
	if _, err := routeAction(nil, newClusterSet(Options{})); err == nil {
		t.Error("no destination: want error")
	}
	if _, err := routeAction([]policies.HTTPRouteDestination{d("a", -1), d("b", 1)}, newClusterSet(Options{})); err == nil {
		t.Error("negative weight: want error")
	}
}

func TestBindsGateway(t *testing.T) {
	g := &policies.Gateway{Metadata: meta("default", "gw")}
	tests := []struct {
		ns   string
		refs []string
		want bool
	}{
		{"default", []string{"gw"}, true},
		{"other", []string{"gw"}, false},
		{"other", []string{"default/gw"}, true},
		{"default", []string{"mesh"}, false},
		{"default", nil, false},
	}
	for _, tt := range tests {
		vs := &policies.VirtualService{Metadata: meta(tt.ns, "vs"), Spec: policies.VirtualServiceSpec{Gateways: tt.refs}}
		if got := bindsGateway(vs, g); got != tt.want {
			t.Errorf("vs in %s with gateways %v: got %v, want %v", tt.ns, tt.refs, got, tt.want)
		}
	}
}

func TestIsCatchAllRoute(t *testing.T) {
	tests := []struct {
		name string
		m    policies.HTTPMatchRequest
		want bool
	}{
		{"no match", policies.HTTPMatchRequest{}, true},
		{"prefix /", policies.HTTPMatchRequest{URI: &policies.StringMatch{Prefix: "/"}}, true},
		{"prefix / ignore case", policies.HTTPMatchRequest{URI: &policies.StringMatch{Prefix: "/"}, IgnoreURICase: true}, true},
		{"regex .*", policies.HTTPMatchRequest{URI: &policies.StringMatch{Regex: ".*"}}, true},
		{"prefix /a", policies.HTTPMatchRequest{URI: &policies.StringMatch{Prefix: "/a"}}, false},
		{"exact /", policies.HTTPMatchRequest{URI: &policies.StringMatch{Exact: "/"}}, false},
		{"regex /.*", policies.HTTPMatchRequest{URI: &policies.StringMatch{Regex: "/.*"}}, false},
		{"prefix / with method", policies.HTTPMatchRequest{URI: &policies.StringMatch{Prefix: "/"}, Method: &policies.StringMatch{Exact: "GET"}}, false},
		{"no uri with header", policies.HTTPMatchRequest{Headers: map[string]policies.StringMatch{"x": {Exact: "1"}}}, false},
		{"authority only", policies.HTTPMatchRequest{Authority: &policies.StringMatch{Exact: "a.com"}}, false},
	}
	for _, tt := range tests {
		if got := isCatchAllRoute(&routev3.Route{Match: routeMatch(tt.m)}); got != tt.want {
			t.Errorf("%s: isCatchAllRoute = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestBuildRouteConfigCatchAllLast: a catch-all route of an earlier
// VirtualService no longer hides a later VirtualService's routes on the same
// host (review item 6); other routes keep their order, catch-alls keep
// theirs. Host matching ignores the port (review item 5).
func TestBuildRouteConfigCatchAllLast(t *testing.T) {
	gw := &policies.Gateway{Metadata: meta("default", "gw"), Spec: policies.GatewaySpec{
		Servers: []policies.Server{{Port: policies.Port{Number: 80, Protocol: "HTTP"}, Hosts: []string{"*.example.com"}}},
	}}
	dest := []policies.HTTPRouteDestination{{Destination: policies.Destination{Host: "httpbin", Port: &policies.PortSelector{Number: 8000}}}}
	vs := func(name string, rules ...policies.HTTPRoute) *policies.VirtualService {
		return &policies.VirtualService{Metadata: meta("default", name), Spec: policies.VirtualServiceSpec{
			Hosts: []string{"api.example.com"}, Gateways: []string{"gw"}, HTTP: rules,
		}}
	}
	prefix := func(p string) policies.HTTPRoute {
		return policies.HTTPRoute{Match: []policies.HTTPMatchRequest{{URI: &policies.StringMatch{Prefix: p}}}, Route: dest}
	}
	all := policies.HTTPRoute{Route: dest}
	set := &policies.Set{Gateways: []*policies.Gateway{gw}, VirtualServices: []*policies.VirtualService{
		vs("a", prefix("/a"), all),
		vs("b", prefix("/b"), policies.HTTPRoute{Match: []policies.HTTPMatchRequest{{URI: &policies.StringMatch{Regex: ".*"}}}, Route: dest}),
		vs("c", prefix("/c")),
	}}
	ports := gatewayPorts(set, policies.Identity{Namespace: "istio-system"})
	rc, err := buildRouteConfig(set, ports[0], 8080, newClusterSet(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if !rc.GetIgnorePortInHostMatching() {
		t.Error("ignore_port_in_host_matching must be set")
	}
	if len(rc.GetVirtualHosts()) != 1 {
		t.Fatalf("virtual hosts = %d, want 1", len(rc.GetVirtualHosts()))
	}
	vh := rc.GetVirtualHosts()[0]
	if got := vh.GetDomains(); len(got) != 1 || got[0] != "api.example.com" {
		t.Errorf("domains = %v, want [api.example.com]", got)
	}
	var got []string
	for _, r := range vh.GetRoutes() {
		got = append(got, r.GetName()+" "+compact(t, r.GetMatch()))
	}
	want := []string{
		`default/a/0 {"prefix":"/a"}`,
		`default/b/0 {"prefix":"/b"}`,
		`default/c/0 {"prefix":"/c"}`,
		`default/a/1 {"prefix":"/"}`,
		`default/b/1 {"safeRegex":{"regex":".*"}}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("routes:\n got  %s\n want %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}
