package translate

import (
	"testing"

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
