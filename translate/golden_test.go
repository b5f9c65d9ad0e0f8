package translate

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/jwtgate/jwtgate/policies"
)

var (
	update = flag.Bool("update", false, "rewrite the golden files testdata/*.out.yaml")
)

// caseHeader is the first YAML document of a golden case: who the gateway
// is and the translation options. The other documents are policies.
type caseHeader struct {
	Identity struct {
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"identity"`
	Options struct {
		ListenerAddress   string            `yaml:"listenerAddress"`
		RootNamespace     string            `yaml:"rootNamespace"`
		PortOffset        int32             `yaml:"portOffset"`
		Resolve           map[string]string `yaml:"resolve"`
		NoTokenStatus     uint32            `yaml:"noTokenStatus"`
		ServerName        string            `yaml:"serverName"`
		XFFNumTrustedHops uint32            `yaml:"xffNumTrustedHops"`
		JWKS              map[string]string `yaml:"jwks"`
		FailClosedJWKS    string            `yaml:"failClosedJWKS"`
		EnvoyFetchesKeys  bool              `yaml:"envoyFetchesKeys"`
		CAFile            string            `yaml:"caFile"`
	} `yaml:"options"`
}

func (h caseHeader) identity() policies.Identity {
	return policies.Identity{Namespace: h.Identity.Namespace, Labels: h.Identity.Labels}
}

func (h caseHeader) options() Options {
	o := h.Options
	return Options{
		ListenerAddress:   o.ListenerAddress,
		RootNamespace:     o.RootNamespace,
		PortOffset:        o.PortOffset,
		Resolve:           o.Resolve,
		NoTokenStatus:     o.NoTokenStatus,
		ServerName:        o.ServerName,
		XFFNumTrustedHops: o.XFFNumTrustedHops,
		JWKS:              o.JWKS,
		FailClosedJWKS:    o.FailClosedJWKS,
		EnvoyFetchesKeys:  o.EnvoyFetchesKeys,
		CAFile:            o.CAFile,
	}
}

// loadCase reads a golden input: the header document, and the policy
// documents loaded through policies.Load (so inputs are validated exactly
// as jwtgate validates a policy directory).
func loadCase(t *testing.T, file string) (caseHeader, *policies.Set) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	head, rest, ok := bytes.Cut(data, []byte("\n---\n"))
	if !ok {
		t.Fatalf("%s: want a header document, then ---, then policies", file)
	}
	var h caseHeader
	dec := yaml.NewDecoder(bytes.NewReader(head))
	dec.KnownFields(true)
	if err := dec.Decode(&h); err != nil {
		t.Fatalf("%s: header: %v", file, err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policies.yaml"), rest, 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := policies.Load(dir)
	if err != nil {
		t.Fatalf("%s: load: %v", file, err)
	}
	return h, set
}

// TestGolden translates every testdata/<case>.in.yaml and compares the
// result with testdata/<case>.out.yaml (go test ./translate -update
// rewrites them). Every resource must pass ValidateAll.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			h, set := loadCase(t, file)
			res, err := Translate(set, h.identity(), h.options())
			if err != nil {
				t.Fatalf("translate: %v", err)
			}
			validateAll(t, res)
			got, err := MarshalYAML(res)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.TrimSuffix(file, ".in.yaml") + ".out.yaml"
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				exp, err := os.ReadFile(want)
				if err != nil {
					t.Fatalf("%v (run go test ./translate -update)", err)
				}
				if !bytes.Equal(got, exp) {
					t.Errorf("%s differs from the translation; diff it against -update output:\n%s", want, firstDiff(exp, got))
				}
			}
		})
	}
}

// validateAll runs the generated protoc-gen-validate checks on every
// resource and on every typed filter config inside the listeners.
func validateAll(t *testing.T, res *Resources) {
	t.Helper()
	type validator interface{ ValidateAll() error }
	check := func(what string, m validator) {
		if err := m.ValidateAll(); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	for _, l := range res.Listeners {
		check("listener "+l.GetName(), l)
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				m, err := f.GetTypedConfig().UnmarshalNew()
				if err != nil {
					t.Fatalf("listener %s filter %s: %v", l.GetName(), f.GetName(), err)
				}
				check("listener "+l.GetName()+" "+f.GetName(), m.(validator))
				for _, hf := range hcmFilters(t, m) {
					hm, err := hf.GetTypedConfig().UnmarshalNew()
					if err != nil {
						t.Fatalf("http filter %s: %v", hf.GetName(), err)
					}
					check("http filter "+hf.GetName(), hm.(validator))
				}
			}
		}
	}
	for _, r := range res.Routes {
		check("route "+r.GetName(), r)
	}
	for _, c := range res.Clusters {
		check("cluster "+c.GetName(), c)
	}
}

// firstDiff shows the first differing line of two texts.
func firstDiff(want, got []byte) string {
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, w, g)
		}
	}
	return "(no line differs)"
}
