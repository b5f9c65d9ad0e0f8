package translate

import (
	"bytes"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

func TestMarshalYAML(t *testing.T) {
	if _, err := MarshalYAML(nil); err == nil {
		t.Error("nil resources accepted")
	}
	empty, err := MarshalYAML(&Resources{})
	if err != nil {
		t.Fatal(err)
	}
	if string(empty) != "clusters: []\nlisteners: []\nroutes: []\n" {
		t.Errorf("empty resources:\n%s", empty)
	}

	res, err := Translate(guideSet(nil), gatewayID, Options{PortOffset: 8000, ListenerAddress: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	res.Clusters = append(res.Clusters, &clusterv3.Cluster{Name: "zz-extra"})
	first, err := MarshalYAML(res)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		again, _ := MarshalYAML(res)
		if !bytes.Equal(again, first) {
			t.Fatal("two renderings differ")
		}
	}
	// Sections in key order, resources in the given order, protojson names
	// and typed configs.
	out := string(first)
	ci, li, ri := strings.Index(out, "\nclusters:"), strings.Index(out, "\nlisteners:"), strings.Index(out, "\nroutes:")
	if !strings.HasPrefix(out, "clusters:") || li < 0 || ri < li || ci != -1 {
		t.Errorf("sections out of order:\n%s", out)
	}
	for _, want := range []string{"name: 127.0.0.1_8080", "address: 127.0.0.1", "portValue: 8080",
		"'@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
		"- name: zz-extra"} {
		if !strings.Contains(out, want) {
			t.Errorf("rendering lacks %q", want)
		}
	}
	// It is YAML of the three lists.
	var parsed map[string][]map[string]any
	if err := sigsyaml.Unmarshal(first, &parsed); err != nil {
		t.Fatal(err)
	}
	if len(parsed) != 3 || len(parsed["clusters"]) != len(res.Clusters) || len(parsed["listeners"]) != 1 ||
		len(parsed["routes"]) != 1 || parsed["clusters"][len(res.Clusters)-1]["name"] != "zz-extra" {
		t.Errorf("parsed back: %v", parsed)
	}
}
