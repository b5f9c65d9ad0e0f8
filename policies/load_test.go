package policies

import (
	"crypto/sha256"
	"encoding/hex"
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
	dir := t.TempDir()
	set := mustLoad(t, dir)
	if len(set.Gateways)+len(set.VirtualServices)+len(set.RequestAuthentications)+len(set.AuthorizationPolicies) != 0 {
		t.Fatalf("set = %+v", set)
	}
	if set.Hash != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("hash of empty tree = %s, want sha256 of nothing", set.Hash)
	}
	want := dir + ": no documents found (jwtgate reads *.yaml, *.yml and *.json files; names starting with '.' and editor temp files are skipped)"
	if len(set.Warnings) != 1 || set.Warnings[0] != want {
		t.Errorf("warnings = %q, want %q", set.Warnings, want)
	}
	// Files with only comments, or with other extensions, hold no documents either.
	dir = writeTree(t, map[string]string{"a.yaml": "# later\n", "notes.txt": okGateway})
	set = mustLoad(t, dir)
	if len(set.Warnings) != 1 || !strings.HasPrefix(set.Warnings[0], dir+": no documents found") || len(set.Files) != 1 {
		t.Errorf("comments only: warnings = %q, files = %v", set.Warnings, set.Files)
	}
}

// TestLoadSingleFile: a file path is a tree of that one file (pre-commit
// hooks pass files), read whatever its extension.
func TestLoadSingleFile(t *testing.T) {
	dir := writeTree(t, map[string]string{"gw.yaml": okGateway, "other.yaml": "broken: [", "policy.txt": gatewayNamed("txt")})
	set := mustLoad(t, filepath.Join(dir, "gw.yaml"))
	if gatewayNames(set) != "gw" || len(set.Warnings) != 0 {
		t.Fatalf("gateways = %s, warnings = %q", gatewayNames(set), set.Warnings)
	}
	if got, want := set.Gateways[0].Origin.File, filepath.Join(dir, "gw.yaml"); got != want {
		t.Errorf("origin = %s, want %s", got, want)
	}
	// The same bytes under the same name hash like a directory holding only them.
	if want := mustLoad(t, writeTree(t, map[string]string{"gw.yaml": okGateway})).Hash; set.Hash != want {
		t.Errorf("hash = %s, want %s", set.Hash, want)
	}
	if set := mustLoad(t, filepath.Join(dir, "policy.txt")); gatewayNames(set) != "txt" {
		t.Errorf("named .txt file: gateways = %s", gatewayNames(set))
	}
	got := loadErrors(t, filepath.Join(dir, "other.yaml"))
	if len(got) != 1 || !strings.HasPrefix(got[0], filepath.Join(dir, "other.yaml")+":1: invalid YAML") {
		t.Errorf("broken file: %q", got)
	}
	if _, err := Load(os.DevNull); err == nil || !strings.Contains(err.Error(), "not a directory or regular file") {
		t.Errorf("Load(%s) = %v", os.DevNull, err)
	}
}

// TestLoadJSON: .json manifests are read (YAML is a superset of JSON), tab
// indentation included.
func TestLoadJSON(t *testing.T) {
	const gw = "{\n\t\"apiVersion\": \"networking.istio.io/v1\",\n\t\"kind\": \"Gateway\",\n" +
		"\t\"metadata\": {\"name\": \"json\"},\n\t\"spec\": {\"servers\": [{\"port\": {\"number\": 80, \"protocol\": \"HTTP\"}, \"hosts\": [\"*\"]}]}\n}\n"
	dir := writeTree(t, map[string]string{"sub/gw.json": gw, "b.JSON": strings.Replace(gw, `"json"`, `"upper"`, 1)})
	set := mustLoad(t, dir)
	if gatewayNames(set) != "json,upper" {
		t.Fatalf("gateways = %s", gatewayNames(set))
	}
	got := loadErrors(t, writeTree(t, map[string]string{"x.json": strings.Replace(gw, `"kind"`, `"knd"`, 1)}))
	if len(got) != 1 || !strings.HasPrefix(got[0], `x.json:3:2: knd: unknown field "knd": did you mean "kind"? jwtgate reads Gateway`) {
		t.Errorf("errors = %q", got)
	}
	got = loadErrors(t, writeTree(t, map[string]string{"x.json": strings.Replace(gw, `"apiVersion"`, `"apiversion"`, 1)}))
	if len(got) != 1 || !strings.HasPrefix(got[0], `x.json:2:2: apiversion: unknown field "apiversion": did you mean "apiVersion"? Gateway uses networking.istio.io/v1,`) {
		t.Errorf("errors = %q", got)
	}
}

func TestSetFilesAndChangedSince(t *testing.T) {
	a := mustLoad(t, writeTree(t, map[string]string{"a.yaml": okGateway, "sub/b.yml": "# b\n", "c.yaml": "# c\n"}))
	if len(a.Files) != 3 || a.Files["a.yaml"] != sha256Hex(okGateway) || a.Files["sub/b.yml"] != sha256Hex("# b\n") {
		t.Fatalf("files = %v", a.Files)
	}
	b := mustLoad(t, writeTree(t, map[string]string{"a.yaml": gatewayNamed("changed"), "sub/b.yml": "# b\n", "d.yaml": "# d\n", "0.yaml": "# 0\n"}))
	for _, tc := range []struct {
		prev, next *Set
		want       string
	}{
		{a, b, "+0.yaml +d.yaml ~a.yaml -c.yaml"},
		{b, a, "+c.yaml ~a.yaml -0.yaml -d.yaml"},
		{nil, a, "+a.yaml +c.yaml +sub/b.yml"},
		{a, a, ""},
	} {
		if got := strings.Join(tc.next.ChangedSince(tc.prev), " "); got != tc.want {
			t.Errorf("ChangedSince = %q, want %q", got, tc.want)
		}
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

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
