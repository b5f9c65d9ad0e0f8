package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/jwks"
)

func TestBuildInfo(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2025-01-02T03:04:05Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	clean := []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "false"}}
	cases := []struct {
		name   string
		linked string
		bi     *debug.BuildInfo
		want   string
	}{
		{"no build info", "", nil, "devel"},
		{"no build info, linked", "v1.0.0", nil, "v1.0.0"},
		{"go run", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
		{"go install @version", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{"git work tree", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			"devel (commit 0123456789ab, 2025-01-02T03:04:05Z, modified)"},
		{"make build", "v1.2.3-4-g0123456-dirty", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: vcs},
			"v1.2.3-4-g0123456-dirty (commit 0123456789ab, 2025-01-02T03:04:05Z, modified)"},
		{"clean short revision", "", &debug.BuildInfo{Settings: clean}, "devel (commit abc123)"},
	}
	for _, c := range cases {
		if got := buildInfoFrom(c.linked, c.bi).String(); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if got := versionLine(buildInfo{Version: "v9"}); !strings.HasPrefix(got, "jwtgate v9 go1.") {
		t.Errorf("versionLine %q", got)
	}
}

func TestConfigFileKeys(t *testing.T) {
	cases := []struct {
		name, yaml string
		code       int
		want       string // in stderr
	}{
		{"known keys of several commands", "policies: x\nxds-addr: ':1'\niss: me\nlog-level: debug\n", 0, ""},
		{"key case is ignored like viper", "Log-Level: info\n", 0, ""},
		{"empty file", "", 0, ""},
		{"typo", "log-levle: debug\n", 2, `config CFG:1: unknown key "log-levle" (did you mean "log-level"?)`},
		{"env style underscores", "policies: x\nxds_addr: ':1'\n", 2, `config CFG:2: unknown key "xds_addr" (did you mean "xds-addr"?)`},
		{"no close flag", "frobnication: true\n", 2, `config CFG:1: unknown key "frobnication"; keys are flag names`},
		{"config in config", "config: other.yaml\n", 2, `unknown key "config"`},
		{"not a mapping", "- a\n- b\n", 2, "config CFG:1: want a mapping of flag names to values"},
		{"yaml syntax", "a: [\n", 2, "config CFG: yaml:"},
	}
	for _, c := range cases {
		cfg := filepath.Join(t.TempDir(), "jwtgate.yaml")
		if err := os.WriteFile(cfg, []byte(c.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, deps{}, "", "--config", cfg, "version")
		want := strings.ReplaceAll(c.want, "CFG", cfg)
		if r.code != c.code || !strings.Contains(r.stderr, want) {
			t.Errorf("%s: code %d, stderr %q; want %d, %q", c.name, r.code, r.stderr, c.code, want)
		}
	}
}

func TestSuggest(t *testing.T) {
	known := map[string]bool{"xds-addr": true, "http-addr": true, "policies": true, "iss": true, "sub": true, "listener-address": true}
	for in, want := range map[string]string{
		"xds-adr": "xds-addr", "xds_addr": "xds-addr", "policy": "policies", "isss": "iss",
		"listener": "listener-address", "lis": "iss", "completely-different": "", "abc": "",
	} {
		if got := suggest(in, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

// policyTree writes files into a new folder and returns it.
func policyTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const gatewayYAML = `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata:
  name: httpbin-gateway
  namespace: default
spec:
  selector:
    istio: ingressgateway
  servers:
    - hosts: ['*']
      port: {name: http, number: 80, protocol: HTTP}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: httpbin
  namespace: default
spec:
  gateways: [httpbin-gateway]
  hosts: ['*']
  http:
    - route:
        - destination: {host: httpbin, port: {number: 8000}}
`

const jwksURIYAML = `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: jwt
  namespace: istio-system
spec:
  jwtRules:
    - issuer: https://issuer.example
      jwksUri: https://issuer.example/jwks.json
`

func TestServePoliciesPath(t *testing.T) {
	file := filepath.Join(policyTree(t, map[string]string{"gw.yaml": gatewayYAML}), "gw.yaml")
	missing := filepath.Join(t.TempDir(), "nope")
	cases := []struct {
		path, want string
	}{
		{missing, "--policies " + missing + ": no such folder"},
		{file, "--policies " + file + ": not a folder (serve watches a folder"},
	}
	for _, c := range cases {
		r := runCLI(t, deps{}, "", "serve", "--policies", c.path, "--xds-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
		if r.code != 2 || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "Run 'jwtgate serve --help' for usage.") {
			t.Errorf("%s: %+v", c.path, r)
		}
	}
}

func TestParseListenerAddress(t *testing.T) {
	for in, want := range map[string]string{"0.0.0.0": "0.0.0.0", "127.0.0.1": "127.0.0.1", " :: ": "::", "::1": "::1", "10.1.2.3": "10.1.2.3"} {
		if got, err := parseListenerAddress(in); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "localhost", "127.0.0.1:8080", "fe80::1%eth0", "0.0.0.0/0", "1.2.3"} {
		if _, err := parseListenerAddress(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	r := runCLI(t, deps{}, "", "serve", "--listener-address", "localhost")
	if r.code != 2 || !strings.Contains(r.stderr, `--listener-address "localhost": want an IP address`) {
		t.Errorf("serve: %+v", r)
	}
}

func TestParseLabels(t *testing.T) {
	got, err := parseLabels([]string{"istio=ingressgateway", "app=", "", "istio=ingressgateway"})
	if err != nil || len(got) != 2 || got["istio"] != "ingressgateway" || got["app"] != "" {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range [][]string{{"novalue"}, {"=v"}, {"a=1", "a=2"}} {
		if _, err := parseLabels(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRender(t *testing.T) {
	good := policyTree(t, map[string]string{"gw.yaml": gatewayYAML, "ra.yaml": jwksURIYAML})
	bad := policyTree(t, map[string]string{"ra.yaml": "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: x}\nspec: {bogus: 1}\n"})
	cases := []struct {
		name       string
		args       []string
		code       int
		stdout     []string // substrings of stdout
		stderr     []string // substrings of stderr
		noListener bool
	}{
		{"folder, default identity", []string{"render", good, "--port-offset", "8000", "--listener-address", "127.0.0.1"}, 0,
			[]string{"listeners:", "127.0.0.1", "8080", "envoy.filters.http.jwt_authn", "https://issuer.example", "clusters:"},
			[]string{"note: keys of https://issuer.example/jwks.json are not fetched by render"}, false},
		{"single file", []string{"render", filepath.Join(good, "gw.yaml")}, 0,
			[]string{"listeners:", "0.0.0.0", "routes:"}, nil, false},
		{"labels that no Gateway selects", []string{"render", good, "--label", "istio=other"}, 0,
			nil, []string{"note: no Gateway selects namespace istio-system labels {istio=other}"}, true},
		{"invalid tree", []string{"render", bad}, 1,
			nil, []string{"ra.yaml:", "bogus", "jwtgate: invalid policies: "}, true},
		{"bad label", []string{"render", good, "--label", "x"}, 2, nil, []string{`--label "x": want key=value`, "Run 'jwtgate render --help'"}, true},
		{"bad listener address", []string{"render", good, "--listener-address", "eth0"}, 2, nil, []string{"--listener-address"}, true},
		{"no path", []string{"render"}, 2, nil, []string{"accepts 1 arg(s)"}, true},
	}
	for _, c := range cases {
		r := runCLI(t, defaultDeps(), "", c.args...)
		if r.code != c.code {
			t.Errorf("%s: code %d, want %d\nstderr: %s", c.name, r.code, c.code, r.stderr)
			continue
		}
		for _, w := range c.stdout {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%s: stdout lacks %q:\n%s", c.name, w, r.stdout)
			}
		}
		for _, w := range c.stderr {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", c.name, w, r.stderr)
			}
		}
		if c.noListener && strings.Contains(r.stdout, "socketAddress") {
			t.Errorf("%s: listeners printed:\n%s", c.name, r.stdout)
		}
	}
	// Deterministic: the same input renders byte-identical output.
	a := runCLI(t, defaultDeps(), "", "render", good)
	b := runCLI(t, defaultDeps(), "", "render", good)
	if a.stdout == "" || a.stdout != b.stdout {
		t.Error("render output differs between runs")
	}
}

func TestValidateFile(t *testing.T) {
	dir := policyTree(t, map[string]string{"gw.yaml": gatewayYAML})
	r := runCLI(t, defaultDeps(), "", "validate", filepath.Join(dir, "gw.yaml"))
	if r.code != 0 || !strings.Contains(r.stdout, "gw.yaml: ok: 1 Gateway, 1 VirtualService") {
		t.Fatalf("%+v", r)
	}
}

// writePEM writes PEM blocks to a new file.
func writePEM(t *testing.T, blocks ...*pem.Block) string {
	t.Helper()
	var b bytes.Buffer
	for _, bl := range blocks {
		pem.Encode(&b, bl)
	}
	path := filepath.Join(t.TempDir(), "x.pem")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExitCodesAndHints(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	pubDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ec.PublicKey, ec)
	if err != nil {
		t.Fatal(err)
	}
	pubFile := writePEM(t, &pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	certFile := writePEM(t, &pem.Block{Type: "CERTIFICATE", Bytes: certDER})
	junkFile := writePEM(t, &pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")})
	missing := filepath.Join(t.TempDir(), "missing.pem")

	cases := []struct {
		args []string
		code int
		want string // in stderr
	}{
		// Runtime failures: exit 1, no usage hint.
		{[]string{"token", "--key", pubFile, "--iss", "i"}, 1,
			"this is a public key; --key needs the private key (e.g. rsa-private-key.pem)"},
		{[]string{"token", "--key", certFile, "--iss", "i"}, 1, "this is a certificate; --key needs the private key"},
		{[]string{"token", "--key", junkFile, "--iss", "i"}, 1, junkFile + ": "},
		{[]string{"jwk", "--in", junkFile}, 1, junkFile + ": "},
		// Usage errors: exit 2 and a hint to the subcommand's help.
		{[]string{"token", "--key", missing, "--iss", "i"}, 2, "Run 'jwtgate token --help' for usage."},
		{[]string{"token", "--nope"}, 2, "unknown flag: --nope\nRun 'jwtgate token --help' for usage."},
		{[]string{"jwk", "--in", missing}, 2, "Run 'jwtgate jwk --help' for usage."},
		{[]string{"frobnicate"}, 2, "Run 'jwtgate --help' for usage."},
		{[]string{"--log-level", "verbose", "version"}, 2, `--log-level "verbose": want debug, info, warn or error`},
	}
	for _, c := range cases {
		r := runCLI(t, deps{}, "", c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: code %d, stderr %q; want %d, %q", c.args, r.code, r.stderr, c.code, c.want)
		}
		if hint := strings.Contains(r.stderr, "for usage."); hint != (c.code == 2) {
			t.Errorf("%v: usage hint %v with exit %d", c.args, hint, r.code)
		}
	}
	if strings.Contains(runCLI(t, deps{}, "", "--log-level", "verbose", "version").stderr, "slog") {
		t.Error("--log-level error leaks slog's message")
	}
}

func TestTokenHelpNamesAlgorithms(t *testing.T) {
	r := runCLI(t, deps{}, "", "token", "--help")
	for _, want := range []string{"RS256", "P-256         ES256", "P-384         ES384", "P-521         ES512"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("token --help lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestJWKFromCertificateAndTerminalHint(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "issuer"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rsaKey.PublicKey, rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile := writePEM(t, &pem.Block{Type: "CERTIFICATE", Bytes: certDER})
	fromCert := runCLI(t, deps{}, "", "jwk", "--in", certFile)
	fromKey := runCLI(t, deps{}, "", "jwk", "--in", writeKey(t, rsaKey))
	if fromCert.code != 0 || fromCert.stdout != fromKey.stdout {
		t.Fatalf("certificate: %+v\nkey: %+v", fromCert, fromKey)
	}
	// A token signed with the key verifies against the certificate's JWKS.
	tok := runCLI(t, deps{}, "", "token", "--key", writeKey(t, rsaKey), "--iss", "i")
	if _, err := jwks.Verify(strings.TrimSpace(tok.stdout), []byte(strings.TrimSpace(fromCert.stdout))); err != nil {
		t.Errorf("verify against certificate JWKS: %v", err)
	}

	// stdin a character device (like a terminal): a hint, then the read.
	tty, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	var out, errOut bytes.Buffer
	code := execute(context.Background(), newRoot(deps{}), []string{"jwk"}, tty, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "reading a PEM key from the terminal; paste it and press Ctrl-D, or use --in FILE") {
		t.Errorf("terminal: code %d, %q", code, errOut.String())
	}
	// A pipe gets no hint.
	if r := runCLI(t, deps{}, "", "jwk"); strings.Contains(r.stderr, "terminal") {
		t.Errorf("pipe: %q", r.stderr)
	}
}
