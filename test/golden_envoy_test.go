package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	sigsyaml "sigs.k8s.io/yaml"

	// Registers every Envoy type translate can put into an Any (filter
	// configs, CEL filters, ...), so protojson resolves the golden files'
	// typed configs without a list here that could fall behind.
	_ "github.com/jwtgate/jwtgate/translate"
)

// goldenSections are the keys of a translate golden file.
var goldenSections = []string{"clusters", "listeners", "routes"}

// TestGoldenEnvoyValidate feeds every translate golden output
// (translate/testdata/*.out.yaml) to the real Envoy in validate mode, as a
// static bootstrap, so "Envoy accepts what we send" holds for every golden
// case and not only for those the live tests exercise.
func TestGoldenEnvoyValidate(t *testing.T) {
	requireE2E(t)
	envoy := envoyPath(t)
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "translate", "testdata", "*.out.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden outputs in translate/testdata (%v)", err)
	}
	// Sequential on purpose: each validate run is ~0.1 s and CI has 2 cores.
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".out.yaml")
		t.Run(name, func(t *testing.T) {
			if out, err := envoyValidate(t, envoy, name, goldenBootstrap(t, name, file)); err != nil {
				t.Fatalf("envoy --mode validate rejected %s (%v):\n%s", filepath.Base(file), err, out)
			}
		})
	}
	// The check can fail: a route to a cluster the bootstrap lacks is
	// rejected by the same command.
	t.Run("control-unknown-cluster", func(t *testing.T) {
		b := goldenBootstrap(t, "control", files[0])
		b.StaticResources.Clusters = nil
		out, err := envoyValidate(t, envoy, "control", b)
		if err == nil {
			t.Fatalf("envoy --mode validate accepted routes to missing clusters:\n%s", out)
		}
		if !strings.Contains(out, "unknown cluster") {
			t.Fatalf("envoy --mode validate failed for another reason than the missing cluster (%v):\n%s", err, out)
		}
	})
}

// envoyValidate writes b as JSON and runs `envoy --mode validate` on it. It
// returns Envoy's output, and an error unless Envoy exited 0 and printed OK.
func envoyValidate(t *testing.T, envoy, name string, b *bootstrapv3.Bootstrap) (string, error) {
	t.Helper()
	j, err := protojson.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".json")
	if err := os.WriteFile(path, j, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(envoy, "--mode", "validate", "-c", path, "--disable-hot-restart", "-l", "error")
	cmd.Env = childEnv()
	out, err := cmd.CombinedOutput()
	if err == nil && !strings.Contains(string(out), "' OK") {
		err = errors.New("no OK line")
	}
	return string(out), err
}

// goldenBootstrap reads a golden file into Envoy types and returns a static
// bootstrap holding its clusters and listeners, with each listener's RDS
// reference replaced by the named RouteConfiguration inlined (a static
// bootstrap has no RDS), and an admin on 127.0.0.1:0.
func goldenBootstrap(t *testing.T, name, file string) *bootstrapv3.Bootstrap {
	t.Helper()
	y, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	j, err := sigsyaml.YAMLToJSON(y)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var sections map[string][]json.RawMessage
	if err := json.Unmarshal(j, &sections); err != nil {
		t.Fatalf("%s: want a mapping of resource lists: %v", file, err)
	}
	for key := range sections {
		if !slices.Contains(goldenSections, key) {
			t.Fatalf("%s: unknown section %q (want %v)", file, key, goldenSections)
		}
	}
	unmarshal := func(section string, i int, m proto.Message) {
		if err := protojson.Unmarshal(sections[section][i], m); err != nil {
			t.Fatalf("%s: %s[%d]: %v", file, section, i, err)
		}
	}

	routes := map[string]*routev3.RouteConfiguration{}
	for i := range sections["routes"] {
		rc := &routev3.RouteConfiguration{}
		unmarshal("routes", i, rc)
		routes[rc.GetName()] = rc
	}
	b := &bootstrapv3.Bootstrap{
		Node: &corev3.Node{Id: "golden-" + name, Cluster: "jwtgate-e2e"},
		Admin: &bootstrapv3.Admin{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{
				Address:       "127.0.0.1",
				PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 0},
			},
		}}},
		StaticResources: &bootstrapv3.Bootstrap_StaticResources{},
	}
	for i := range sections["clusters"] {
		c := &clusterv3.Cluster{}
		unmarshal("clusters", i, c)
		b.StaticResources.Clusters = append(b.StaticResources.Clusters, c)
	}
	for i := range sections["listeners"] {
		l := &listenerv3.Listener{}
		unmarshal("listeners", i, l)
		inlineRoutes(t, file, l, routes)
		b.StaticResources.Listeners = append(b.StaticResources.Listeners, l)
	}
	if len(b.StaticResources.Listeners) == 0 {
		t.Fatalf("%s: no listeners", file)
	}
	return b
}

// inlineRoutes replaces, in every HTTP connection manager of l, an `rds`
// reference by the RouteConfiguration of that name; a name with no route
// fails the test (Envoy would wait for it forever).
func inlineRoutes(t *testing.T, file string, l *listenerv3.Listener, routes map[string]*routev3.RouteConfiguration) {
	t.Helper()
	chains := slices.Clone(l.GetFilterChains())
	if l.GetDefaultFilterChain() != nil {
		chains = append(chains, l.GetDefaultFilterChain())
	}
	for _, fc := range chains {
		for _, f := range fc.GetFilters() {
			tc := f.GetTypedConfig()
			if tc == nil {
				continue
			}
			hcm := &hcmv3.HttpConnectionManager{}
			if !tc.MessageIs(hcm) {
				continue
			}
			if err := tc.UnmarshalTo(hcm); err != nil {
				t.Fatalf("%s: listener %s: %v", file, l.GetName(), err)
			}
			rds := hcm.GetRds()
			if rds == nil {
				continue
			}
			rc, ok := routes[rds.GetRouteConfigName()]
			if !ok {
				t.Fatalf("%s: listener %s uses route %q, which the golden file lacks",
					file, l.GetName(), rds.GetRouteConfigName())
			}
			hcm.RouteSpecifier = &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: rc}
			a, err := anypb.New(hcm)
			if err != nil {
				t.Fatal(err)
			}
			f.ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: a}
		}
	}
}
