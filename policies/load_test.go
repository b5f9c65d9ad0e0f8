package policies

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const okGateway = gwHead + "spec:\n  servers:\n  - port: {number: 80, protocol: HTTP}\n    hosts: ['*']\n"

func gatewayNamed(name string) string {
	return strings.Replace(okGateway, "name: gw", "name: "+name, 1)
}

func TestLoadEmptyDir(t *testing.T) {
	set := mustLoad(t, t.TempDir())
	if len(set.Gateways)+len(set.VirtualServices)+len(set.RequestAuthentications)+len(set.AuthorizationPolicies) != 0 {
		t.Fatalf("set = %+v", set)
	}
	if set.Hash != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("hash of empty tree = %s, want sha256 of nothing", set.Hash)
	}
}

func TestLoadMissingDir(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope"))
	if err == nil || !strings.Contains(err.Error(), "no such file or directory") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadSkipsTempFilesAndSorts(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"b.yaml":         gatewayNamed("b"),
		"sub/a.YML":      gatewayNamed("a"),
		"sub/deep/c.yml": strings.Replace(gatewayNamed("c"), "name: c", "name: c\n  namespace: aaa", 1),
		"b.yaml~":        "broken: [",
		"#b.yaml#":       "broken: [",
		".#b.yaml":       "broken: [",
		".b.yaml.swp":    "broken: [",
		"x.yaml.swp":     "broken: [",
		".git/x.yaml":    "broken: [",
		"README.md":      "broken: [",
	})
	set := mustLoad(t, dir)
	var names []string
	for _, g := range set.Gateways {
		names = append(names, g.Metadata.Namespace+"/"+g.Metadata.Name)
	}
	if got := strings.Join(names, " "); got != "aaa/c default/a default/b" {
		t.Errorf("gateways = %s", got)
	}
}

func TestLoadHash(t *testing.T) {
	a := mustLoad(t, writeTree(t, map[string]string{"x.yaml": okGateway, "y/z.yaml": "# nothing\n"}))
	b := mustLoad(t, writeTree(t, map[string]string{"x.yaml": okGateway, "y/z.yaml": "# nothing\n"}))
	c := mustLoad(t, writeTree(t, map[string]string{"x.yaml": okGateway, "y/z.yaml": "# nothing.\n"}))
	d := mustLoad(t, writeTree(t, map[string]string{"w.yaml": okGateway, "y/z.yaml": "# nothing\n"}))
	if a.Hash != b.Hash {
		t.Errorf("equal trees hash differently: %s %s", a.Hash, b.Hash)
	}
	if a.Hash == c.Hash || a.Hash == d.Hash {
		t.Errorf("content or path change kept the hash %s", a.Hash)
	}
}

// TestLoadConfigMapLayout builds what the kubelet writes for a ConfigMap
// volume: a timestamped data dir, a "..data" link to it and top-level links
// per key. Every document must be read exactly once.
func TestLoadConfigMapLayout(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "..2024_01_01_00_00_00.1", "gw.yaml"), gatewayNamed("gw"))
	writeFile(t, filepath.Join(dir, "..2024_01_01_00_00_00.1", "sub", "gw2.yaml"), gatewayNamed("gw2"))
	mustSymlink(t, "..2024_01_01_00_00_00.1", filepath.Join(dir, "..data"))
	mustSymlink(t, filepath.Join("..data", "gw.yaml"), filepath.Join(dir, "gw.yaml"))
	mustSymlink(t, filepath.Join("..data", "sub"), filepath.Join(dir, "sub"))
	mustSymlink(t, ".", filepath.Join(dir, "loop")) // a cycle must not hang or duplicate
	mustSymlink(t, "gone.yaml", filepath.Join(dir, "dangling.yaml"))

	set := mustLoad(t, dir)
	if len(set.Gateways) != 2 || set.Gateways[0].Metadata.Name != "gw" || set.Gateways[1].Metadata.Name != "gw2" {
		t.Fatalf("gateways = %+v", set.Gateways)
	}
	if got, want := set.Gateways[0].Origin.File, filepath.Join(dir, "gw.yaml"); got != want {
		t.Errorf("origin = %s, want %s", got, want)
	}

	// The kubelet's atomic update: new data dir, swap ..data.
	before := set.Hash
	writeFile(t, filepath.Join(dir, "..2024_01_02_00_00_00.2", "gw.yaml"), gatewayNamed("gw-new"))
	writeFile(t, filepath.Join(dir, "..2024_01_02_00_00_00.2", "sub", "gw2.yaml"), gatewayNamed("gw2"))
	mustSymlink(t, "..2024_01_02_00_00_00.2", filepath.Join(dir, "..data_tmp"))
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	set = mustLoad(t, dir)
	if len(set.Gateways) != 2 || set.Gateways[0].Metadata.Name != "gw-new" || set.Hash == before {
		t.Fatalf("after swap: gateways = %+v hash changed = %v", set.Gateways, set.Hash != before)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestErrorFormatting(t *testing.T) {
	for _, tc := range []struct {
		e    FieldError
		want string
	}{
		{FieldError{File: "a.yaml", Line: 3, Column: 5, Field: "spec.x", Msg: "bad"}, "a.yaml:3:5: spec.x: bad"},
		{FieldError{File: "a.yaml", Line: 3, Column: 5, Msg: "bad"}, "a.yaml:3:5: bad"},
		{FieldError{File: "a.yaml", Line: 3, Msg: "bad"}, "a.yaml:3: bad"},
		{FieldError{File: "dir", Msg: "not a directory"}, "dir: not a directory"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	l := ErrorList{{File: "b", Line: 1, Msg: "x"}, {File: "a", Line: 10, Msg: "y"}, {File: "a", Line: 9, Msg: "z"}}.sorted()
	if got := l.Error(); got != "a:9: z\na:10: y\nb:1: x" {
		t.Errorf("sorted list = %q", got)
	}
}
