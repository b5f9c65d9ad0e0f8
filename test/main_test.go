package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// workDir holds artifacts shared by every test of the package (the jwtgate
// binary); it is removed when the package's tests end.
var workDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jwtgate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(2)
	}
	workDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireE2E skips the test only when the caller opted out with
// JWTGATE_E2E=0; everything else (a missing Envoy included) must run.
func requireE2E(t *testing.T) {
	t.Helper()
	if os.Getenv("JWTGATE_E2E") == "0" {
		t.Skip("JWTGATE_E2E=0: end-to-end tests disabled by the caller")
	}
}

// repoRoot is the module root (the parent of this package's directory).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repo root %s has no go.mod: %v", root, err)
	}
	return root
}

// envoyPath finds the Envoy binary or fails the test with the command that
// installs it.
func envoyPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("JWTGATE_ENVOY")
	if p == "" {
		p = filepath.Join(repoRoot(t), ".bin", "envoy")
	}
	if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("no Envoy binary at %s: run `make envoy` (hack/install-envoy.sh) "+
			"or set JWTGATE_ENVOY=/path/to/envoy; JWTGATE_E2E=0 skips these tests", p)
	}
	return p
}

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// jwtgateBin builds ./cmd/jwtgate once per package run and returns its path,
// or returns $JWTGATE_BIN when set (to test a binary built elsewhere).
func jwtgateBin(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("JWTGATE_BIN"); bin != "" {
		return bin
	}
	root := repoRoot(t)
	buildOnce.Do(func() {
		bin := filepath.Join(workDir, "jwtgate")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/jwtgate")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/jwtgate: %v\n%s", err, out)
			return
		}
		buildBin = bin
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}
