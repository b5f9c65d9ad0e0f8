package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/jwtgate/jwtgate/jwks"
	"github.com/jwtgate/jwtgate/policies"
	"github.com/jwtgate/jwtgate/translate"
)

// result is one in-process run of the CLI.
type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, d deps, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := execute(context.Background(), newRoot(d), args, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

func fakeLoad(dir string) (*policies.Set, error) {
	switch dir {
	case "good":
		return &policies.Set{
			Gateways:               []*policies.Gateway{{}},
			VirtualServices:        []*policies.VirtualService{{}},
			RequestAuthentications: []*policies.RequestAuthentication{{}, {}},
			Warnings:               []string{"sec.yaml:12: principals never match at a plaintext ingress"},
		}, nil
	case "bad":
		return nil, policies.ErrorList{
			{File: "bad/a.yaml", Line: 3, Column: 5, Field: "spec.jwtRules[0].jwks", Msg: "not valid JSON"},
			{File: "bad/b.yaml", Line: 7, Column: 1, Field: "kind", Msg: "unknown kind"},
		}
	}
	return nil, errors.New("no such directory")
}

func TestValidate(t *testing.T) {
	d := deps{load: fakeLoad}
	r := runCLI(t, d, "", "validate", "good")
	if r.code != 0 || !strings.Contains(r.stdout, "good: ok: 1 Gateway, 1 VirtualService, 2 RequestAuthentication, 0 AuthorizationPolicy; 1 warning(s)") {
		t.Fatalf("good: %+v", r)
	}
	if !strings.Contains(r.stderr, "warning: sec.yaml:12: principals never match") {
		t.Errorf("warning not printed: %q", r.stderr)
	}

	r = runCLI(t, d, "", "validate", "good", "bad", "missing")
	if r.code != 1 {
		t.Fatalf("bad: code %d, %+v", r.code, r)
	}
	for _, want := range []string{
		"bad/a.yaml:3:5: spec.jwtRules[0].jwks: not valid JSON\n",
		"bad/b.yaml:7:1: kind: unknown kind\n",
		"missing: no such directory\n",
		"invalid policies: 3 error(s)",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if !strings.Contains(r.stdout, "good: ok") {
		t.Errorf("valid folder not summarised when another fails: %q", r.stdout)
	}

	if r := runCLI(t, d, "", "validate"); r.code != 2 {
		t.Errorf("no DIR: code %d", r.code)
	}
}

func TestValidateRealLoader(t *testing.T) {
	dir := t.TempDir()
	doc := "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata:\n  name: x\n  namespace: istio-system\nspec:\n  bogusField: 1\n"
	if err := os.WriteFile(filepath.Join(dir, "ra.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, defaultDeps(), "", "validate", dir)
	if r.code != 1 || !regexp.MustCompile(`ra\.yaml:\d+:\d+: .*bogusField`).MatchString(r.stderr) {
		t.Fatalf("invalid tree: %+v", r)
	}
}

func writeKey(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestJWKAndTokenRoundTrip(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, key := range []any{rsaKey, ecKey} {
		keyFile := writeKey(t, key)
		r := runCLI(t, deps{}, "", "jwk", "--in", keyFile)
		if r.code != 0 {
			t.Fatalf("jwk: %+v", r)
		}
		jwksJSON := strings.TrimSpace(r.stdout)
		pemData, _ := os.ReadFile(keyFile)
		if r2 := runCLI(t, deps{}, string(pemData), "jwk"); strings.TrimSpace(r2.stdout) != jwksJSON {
			t.Errorf("stdin jwk differs: %q vs %q", r2.stdout, jwksJSON)
		}

		r = runCLI(t, deps{}, "", "token", "--key", keyFile, "--iss", "testing@asm.test.io", "--sub", "demo@asm.test.io",
			"--aud", "a1", "--aud", "a2", "--claim", `groups=["x","y"]`, "--claim", "team.name=core", "--exp", "2h")
		if r.code != 0 {
			t.Fatalf("token: %+v", r)
		}
		claims, err := jwks.Verify(strings.TrimSpace(r.stdout), []byte(jwksJSON))
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		if claims["iss"] != "testing@asm.test.io" || claims["sub"] != "demo@asm.test.io" {
			t.Errorf("claims %v", claims)
		}
		got, _ := json.Marshal([]any{claims["aud"], claims["groups"], claims["team"]})
		if string(got) != `[["a1","a2"],["x","y"],{"name":"core"}]` {
			t.Errorf("claims %s", got)
		}
		exp, iat := claims["exp"].(float64), claims["iat"].(float64)
		if exp-iat != 7200 {
			t.Errorf("exp-iat = %v", exp-iat)
		}
	}
}

func TestTokenEnvConfigAndFlagPrecedence(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	keyFile := writeKey(t, key)
	cfg := filepath.Join(t.TempDir(), "jwtgate.yaml")
	os.WriteFile(cfg, []byte("iss: from-config\nsub: config-sub\nexp: 0s\naud: [c1, c2]\n"), 0o644)
	t.Setenv("JWTGATE_KEY", keyFile)
	t.Setenv("JWTGATE_SUB", "env-sub")
	t.Setenv("JWTGATE_CLAIM", "a=1\nb=two")

	r := runCLI(t, deps{}, "", "--config", cfg, "token", "--sub", "flag-sub")
	if r.code != 0 {
		t.Fatalf("token: %+v", r)
	}
	claims, err := jwks.Verify(strings.TrimSpace(r.stdout), mustJWKS(t, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	if claims["iss"] != "from-config" || claims["sub"] != "flag-sub" || claims["a"] != float64(1) || claims["b"] != "two" {
		t.Errorf("claims %v", claims)
	}
	if _, ok := claims["exp"]; ok {
		t.Error("exp 0s must omit exp")
	}
	if aud, _ := json.Marshal(claims["aud"]); string(aud) != `["c1","c2"]` {
		t.Errorf("aud from config = %s", aud)
	}

	// Environment beats the config file.
	t.Setenv("JWTGATE_ISS", "from-env")
	r = runCLI(t, deps{}, "", "--config", cfg, "token")
	claims, _ = jwks.Verify(strings.TrimSpace(r.stdout), mustJWKS(t, keyFile))
	if claims["iss"] != "from-env" || claims["sub"] != "env-sub" {
		t.Errorf("env precedence: %v", claims)
	}
}

func mustJWKS(t *testing.T, keyFile string) []byte {
	t.Helper()
	data, _ := os.ReadFile(keyFile)
	set, err := jwks.FromPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := set.JSON()
	return out
}

func TestUsageErrors(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 1024)
	keyFile := writeKey(t, key)
	cases := [][]string{
		{},
		{"frobnicate"},
		{"token", "--key", keyFile},
		{"token", "--key", keyFile, "--iss", "i", "--exp", "soon"},
		{"token", "--key", keyFile, "--iss", "i", "--claim", "novalue"},
		{"token", "--nope"},
		{"jwk", "--in", filepath.Join(t.TempDir(), "missing.pem")},
		{"jwk", "extra-arg"},
		{"--log-format", "xml", "version"},
		{"--log-level", "loud", "version"},
		{"serve", "--no-token-status", "500"},
		{"serve", "--port-offset", "-1"},
		{"serve", "--resolve", "httpbin=not-an-ip"},
		{"serve", "--server-name", ""},
		{"serve", "--server-name", "evil\r\nset-cookie: x=1"},
		{"serve", "--jwks-refresh", "500ms"},
		{"serve", "--jwks-refresh", "soon"},
		{"--config", "/nonexistent/jwtgate.yaml", "version"},
	}
	for _, args := range cases {
		if r := runCLI(t, deps{}, "", args...); r.code != 2 {
			t.Errorf("%v: code %d, want 2 (%s)", args, r.code, r.stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	r := runCLI(t, deps{}, "", "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "jwtgate ") || !strings.Contains(r.stdout, " go1.") {
		t.Fatalf("%+v", r)
	}
	// --version prints the same line.
	if r2 := runCLI(t, deps{}, "", "--version"); r2.code != 0 || r2.stdout != r.stdout {
		t.Errorf("--version %+v, version %q", r2, r.stdout)
	}
}

func TestParseResolve(t *testing.T) {
	got, err := parseResolve([]string{"httpbin=127.0.0.1:8000", "a.example=10.0.0.1", "v6=[::1]:80", "httpbin=127.0.0.1:8000"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got["httpbin"] != "127.0.0.1:8000" || got["a.example"] != "10.0.0.1" || got["v6"] != "[::1]:80" {
		t.Fatalf("%v", got)
	}
	for _, bad := range []string{"nohost", "=1.2.3.4", "h=", "h=1.2.3.4:0", "h=example.com"} {
		if _, err := parseResolve([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := parseResolve([]string{"h=1.1.1.1", "h=2.2.2.2"}); err == nil {
		t.Error("conflicting duplicate accepted")
	}
}

// syncBuffer is a goroutine-safe writer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs serve with d in the background until ctx ends: JSON
// logs into logs, the xDS and HTTP servers on free ports, extra appended
// to the arguments. It waits for the HTTP address to be logged; get does a
// GET on that server, done receives the exit code.
func startServe(t *testing.T, ctx context.Context, d deps, extra ...string) (logs *syncBuffer, get func(path string) (int, string), done chan int) {
	t.Helper()
	logs = &syncBuffer{}
	done = make(chan int, 1)
	args := append([]string{"serve", "--xds-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--log-format", "json"}, extra...)
	go func() {
		done <- execute(ctx, newRoot(d), args, strings.NewReader(""), io.Discard, logs)
	}()

	var base string
	addr := regexp.MustCompile(`"http_addr":"([^"]+)"`)
	deadline := time.Now().Add(10 * time.Second)
	for base == "" {
		if m := addr.FindStringSubmatch(logs.String()); m != nil {
			base = "http://" + m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("server did not start:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	get = func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	return logs, get, done
}

// waitExit waits up to 10s for the exit code startServe's serve sends on
// done (once its context is cancelled), which must be 0.
func waitExit(t *testing.T, done <-chan int, logs *syncBuffer) {
	t.Helper()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code %d:\n%s", code, logs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown")
	}
}

// setupServe is a fresh app's serve command with flags parsed and the
// configuration set up (from them and the environment).
func setupServe(t *testing.T, flags ...string) (*app, *cobra.Command) {
	t.Helper()
	a := &app{v: viper.New()}
	cmd := a.serveCmd()
	cmd.SetErr(io.Discard)
	if err := cmd.ParseFlags(flags); err != nil {
		t.Fatal(err)
	}
	if err := a.setup(cmd, nil); err != nil {
		t.Fatal(err)
	}
	return a, cmd
}

func TestServeReadinessAndShutdown(t *testing.T) {
	release, recovered := make(chan struct{}), make(chan struct{})
	policyDir := t.TempDir()
	d := deps{
		watch: func(ctx context.Context, dir string, opts policies.WatchOptions, publish func(*policies.Set), onError func(error)) error {
			if dir != policyDir {
				t.Errorf("watch dir %q", dir)
			}
			onError(errors.New("first load invalid"))
			select {
			case <-release:
				publish(&policies.Set{Hash: "h1"})
				// An edit is rejected, then undone: valid again, same hash.
				onError(errors.New("bad edit"))
				opts.OnRecovered(&policies.Set{Hash: "h1"})
				close(recovered)
			case <-ctx.Done():
			}
			<-ctx.Done()
			return nil
		},
		translate: func(*policies.Set, policies.Identity, translate.Options) (*translate.Resources, error) {
			return &translate.Resources{}, nil
		},
	}
	t.Setenv("JWTGATE_POLICIES", policyDir)
	t.Setenv("JWTGATE_RESOLVE", "httpbin=127.0.0.1:8000,other=10.0.0.1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs, get, done := startServe(t, ctx, d)
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	if code, _ := get("/readyz"); code != 503 {
		t.Errorf("readyz before a valid set: %d", code)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if code, _ := get("/readyz"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-recovered:
	case <-time.After(5 * time.Second):
		t.Fatal("watch never reported the recovery")
	}
	_, metrics := get("/metrics")
	for _, want := range []string{"jwtgate_ready 1", `jwtgate_policy_reloads_total{result="error"} 2`,
		`jwtgate_policy_reloads_total{result="ok"} 2`, `jwtgate_policy_set_info{hash="h1"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// /debug/status is the xDS server's status as JSON.
	code, body := get("/debug/status")
	var st struct {
		PolicySetHash string `json:"policySetHash"`
		Ready         bool   `json:"ready"`
	}
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil || st.PolicySetHash != "h1" || !st.Ready {
		t.Errorf("/debug/status %d %v: %s", code, err, body)
	}
	// Every effective setting is logged once at start-up, with its source.
	var settings []map[string]any
	for _, line := range strings.Split(logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "settings" {
			settings = append(settings, m)
		}
	}
	if len(settings) != 1 {
		t.Fatalf("%d settings lines:\n%s", len(settings), logs)
	}
	for k, want := range map[string]any{
		"level": "INFO", "config": "", "policies": policyDir, "xds-addr": "127.0.0.1:0", "http-addr": "127.0.0.1:0",
		"port-offset": 0.0, "listener-address": "0.0.0.0", "resolve": "httpbin=127.0.0.1:8000,other=10.0.0.1",
		"root-namespace": "istio-system", "no-token-status": 401.0, "xff-trusted-hops": 0.0, "server-name": "istio-envoy",
		"jwks-refresh": "20m0s", "set_by": "policies=env,xds-addr=flag,http-addr=flag,resolve=env",
	} {
		if got := settings[0][k]; got != want {
			t.Errorf("settings %s = %#v, want %#v", k, got, want)
		}
	}
	cancel()
	waitExit(t, done, logs)
}

func TestTranslateOptions(t *testing.T) {
	t.Setenv("JWTGATE_XFF_TRUSTED_HOPS", "2")
	t.Setenv("JWTGATE_RESOLVE", "a=10.0.0.1, b=10.0.0.2:81")
	a, cmd := setupServe(t, "--port-offset", "8000", "--no-token-status", "403", "--root-namespace", "mesh")
	opts, err := a.translateOptions(cmd)
	if err != nil {
		t.Fatal(err)
	}
	want := translate.Options{ListenerAddress: "0.0.0.0", ServerName: "istio-envoy", RootNamespace: "mesh", PortOffset: 8000, NoTokenStatus: 403, XFFNumTrustedHops: 2,
		Resolve: map[string]string{"a": "10.0.0.1", "b": "10.0.0.2:81"}, JWKS: map[string]string{}, CAFile: translate.DefaultCAFile}
	if !reflect.DeepEqual(opts, want) {
		t.Fatalf("options %+v\nwant %+v", opts, want)
	}
	// A flag given on the command line replaces the environment list.
	cmd.ParseFlags([]string{"--resolve", "c=10.0.0.3", "--resolve", "d=10.0.0.4"})
	opts, _ = a.translateOptions(cmd)
	if len(opts.Resolve) != 2 || opts.Resolve["c"] != "10.0.0.3" || opts.Resolve["d"] != "10.0.0.4" {
		t.Errorf("resolve from flags %v", opts.Resolve)
	}
	// --server-name, from the environment and then from a flag.
	t.Setenv("JWTGATE_SERVER_NAME", "my gateway/1.0")
	if opts, _ = a.translateOptions(cmd); opts.ServerName != "my gateway/1.0" {
		t.Errorf("server name from env = %q", opts.ServerName)
	}
	cmd.ParseFlags([]string{"--server-name", "edge"})
	if opts, _ = a.translateOptions(cmd); opts.ServerName != "edge" {
		t.Errorf("server name from flag = %q", opts.ServerName)
	}
}
