package translate

import (
	"os"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/jwtgate/jwtgate/policies"
)

// hcmFilters returns the HTTP filters of m when it is an HTTP connection
// manager.
func hcmFilters(t *testing.T, m proto.Message) []*hcmv3.HttpFilter {
	t.Helper()
	if h, ok := m.(*hcmv3.HttpConnectionManager); ok {
		return h.GetHttpFilters()
	}
	return nil
}

// writeBootstrap writes a static Envoy bootstrap with the case's resources
// (routes inlined into each listener instead of RDS), for
// testdata/envoycheck/check.sh. Only used with -envoycheck.
func writeBootstrap(t *testing.T, path string, set *policies.Set, h caseHeader) {
	t.Helper()
	opts := h.options()
	if *envoyCheckOffset != 0 {
		opts.PortOffset = int32(*envoyCheckOffset)
	}
	if *envoyCheckUpstream != "" {
		opts.Resolve = map[string]string{}
		for _, vs := range set.VirtualServices {
			for _, hr := range vs.Spec.HTTP {
				for _, d := range hr.Route {
					opts.Resolve[d.Destination.Host] = *envoyCheckUpstream
				}
			}
		}
	}
	res, err := Translate(set, h.identity(), opts)
	if err != nil {
		t.Fatal(err)
	}
	b := &bootstrapv3.Bootstrap{
		Node:            &corev3.Node{Id: "envoycheck", Cluster: "envoycheck"},
		Admin:           &bootstrapv3.Admin{Address: socketAddress("127.0.0.1", 0)},
		StaticResources: &bootstrapv3.Bootstrap_StaticResources{Clusters: res.Clusters},
	}
	for _, l := range res.Listeners {
		l = proto.Clone(l).(*listenerv3.Listener)
		f := l.FilterChains[0].Filters[0]
		m, err := f.GetTypedConfig().UnmarshalNew()
		if err != nil {
			t.Fatal(err)
		}
		hcm := m.(*hcmv3.HttpConnectionManager)
		name := hcm.GetRds().GetRouteConfigName()
		for _, rc := range res.Routes {
			if rc.GetName() == name {
				hcm.RouteSpecifier = &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: rc}
			}
		}
		a, err := anyOf(hcm)
		if err != nil {
			t.Fatal(err)
		}
		f.ConfigType.(*listenerv3.Filter_TypedConfig).TypedConfig = a
		b.StaticResources.Listeners = append(b.StaticResources.Listeners, l)
	}
	j, err := protojson.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	y, err := sigsyaml.JSONToYAML(j)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, y, 0o644); err != nil {
		t.Fatal(err)
	}
}
