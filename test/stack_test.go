package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// gatewayServerPort is the Gateway server port of examples/00-gateway.yaml;
// jwtgate adds --port-offset to it for the Envoy listener.
const gatewayServerPort = 80

// stepDeadline bounds the wait for a policy change to show at the gateway.
const stepDeadline = 10 * time.Second

// coldStartDeadline bounds the wait for a fresh Envoy's first configuration.
const coldStartDeadline = 30 * time.Second

// stack is one jwtgate serving one Envoy in front of one httpbin, all on
// 127.0.0.1 with free ports, with a temp policy directory jwtgate watches.
type stack struct {
	t        *testing.T
	bin      string // jwtgate binary
	dir      string // temp dir for logs, keys, bootstrap
	policies string // watched policy dir

	gatewayPort int // Envoy listener for Gateway port 80
	xdsPort     int
	httpPort    int // jwtgate /healthz /readyz /metrics
	adminPort   int // Envoy admin

	jwtgate *proc
	envoy   *proc

	envoyStarted time.Time       // when startEnvoy ran (coldStart measures from it)
	latencies    []time.Duration // of every apply, for logLatencies
}

// newStack prepares ports and directories for an end-to-end test; nothing
// runs yet. It skips the test when the caller opted out (JWTGATE_E2E=0)
// and fails it when there is no Envoy binary.
func newStack(t *testing.T) *stack {
	t.Helper()
	requireE2E(t)
	envoyPath(t)
	dir := t.TempDir()
	s := &stack{
		t:           t,
		bin:         jwtgateBin(t),
		dir:         dir,
		policies:    filepath.Join(dir, "policies"),
		gatewayPort: freePort(t),
		xdsPort:     freePort(t),
		httpPort:    freePort(t),
		adminPort:   freePort(t),
	}
	if err := os.Mkdir(s.policies, 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

// gateway is the Envoy listener address.
func (s *stack) gateway() string { return hostPort(s.gatewayPort) }

// startJWTGate runs `jwtgate serve` (with extra flags, if any) and waits
// for its /healthz.
func (s *stack) startJWTGate(httpbinPort int, extra ...string) {
	t := s.t
	t.Helper()
	args := []string{"serve",
		"--policies", s.policies,
		"--xds-addr", hostPort(s.xdsPort),
		"--http-addr", hostPort(s.httpPort),
		"--port-offset", strconv.Itoa(s.gatewayPort - gatewayServerPort),
		"--listener-address", "127.0.0.1", // tests listen on loopback only
		"--resolve", "httpbin=" + hostPort(httpbinPort),
		"--log-level", "debug",
	}
	s.jwtgate = startProc(t, "jwtgate", filepath.Join(s.dir, "jwtgate.log"), s.bin, append(args, extra...)...)
	s.waitHTTP("jwtgate /healthz", "http://"+hostPort(s.httpPort)+"/healthz", 15*time.Second)
}

// startEnvoy runs Envoy on envoy-config/<bootstrap>, rewritten to this
// stack's xDS and admin ports.
func (s *stack) startEnvoy(bootstrap string) {
	t := s.t
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "envoy-config", bootstrap))
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(src)
	for old, port := range map[string]int{"port_value: 9901": s.adminPort, "port_value: 18000": s.xdsPort} {
		if strings.Count(cfg, old) != 1 {
			t.Fatalf("%s: want exactly one %q to rewrite", bootstrap, old)
		}
		cfg = strings.Replace(cfg, old, "port_value: "+strconv.Itoa(port), 1)
	}
	path := filepath.Join(s.dir, bootstrap)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s.envoyStarted = time.Now()
	s.envoy = startProc(t, "envoy", filepath.Join(s.dir, "envoy.log"), envoyPath(t),
		"-c", path,
		"--use-dynamic-base-id", "--disable-hot-restart",
		"--concurrency", "1", "--drain-time-s", "1",
		"-l", "info", "--component-log-level", "main:warning",
	)
}

// serve starts httpbin, jwtgate (with extra serve flags, if any; httpbin
// is the upstream of the guide's VirtualService) and Envoy on
// envoy-config/<bootstrap>, over the policies written so far. It does not
// wait for Envoy's configuration: coldStart does.
func (s *stack) serve(bootstrap string, serveArgs ...string) {
	s.t.Helper()
	s.startJWTGate(startHTTPBin(s.t), serveArgs...)
	s.startEnvoy(bootstrap)
}

// coldStart waits (up to coldStartDeadline after Envoy started) until every
// row holds, logs how long Envoy took and returns it.
func (s *stack) coldStart(step string, rows ...row) time.Duration {
	s.t.Helper()
	d := s.waitRows(step, s.envoyStarted, coldStartDeadline, rows)
	s.t.Logf("cold start: step=%q ms=%d", step, d.Milliseconds())
	return d
}

// waitReady waits for jwtgate's /readyz.
func (s *stack) waitReady() {
	s.t.Helper()
	s.waitHTTP("jwtgate /readyz", "http://"+hostPort(s.httpPort)+"/readyz", 5*time.Second)
}

// apply runs change (a file change in the watched directory), waits until
// every row holds at the gateway, logs the apply latency and records it for
// logLatencies.
func (s *stack) apply(step string, change func(), rows ...row) time.Duration {
	s.t.Helper()
	start := time.Now()
	change()
	d := s.waitRows(step, start, stepDeadline, rows)
	s.t.Logf("apply latency: step=%s ms=%d", step, d.Milliseconds())
	s.latencies = append(s.latencies, d)
	return d
}

// logLatencies logs min/median/max of the latencies of every apply.
func (s *stack) logLatencies(suite string) {
	s.t.Helper()
	if len(s.latencies) == 0 {
		return
	}
	sorted := slices.Clone(s.latencies)
	slices.Sort(sorted)
	s.t.Logf("apply latency summary: suite=%s steps=%d min_ms=%d median_ms=%d max_ms=%d",
		suite, len(sorted), sorted[0].Milliseconds(), sorted[len(sorted)/2].Milliseconds(), sorted[len(sorted)-1].Milliseconds())
}

// waitHTTP polls url until it answers 200.
func (s *stack) waitHTTP(what, url string, deadline time.Duration) {
	t := s.t
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	var last string
	for end := time.Now().Add(deadline); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		s.checkAlive()
		resp, err := client.Get(url)
		if err != nil {
			last = err.Error()
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return
		}
		last = resp.Status
	}
	t.Fatalf("%s: %s did not answer 200 within %s (last: %s)", what, url, deadline, last)
}

// checkAlive fails the test at once if jwtgate or Envoy died.
func (s *stack) checkAlive() {
	s.t.Helper()
	for _, p := range []*proc{s.jwtgate, s.envoy} {
		if p != nil && p.exited() {
			s.t.Fatalf("%s exited unexpectedly (%v)", p.name, p.cmd.ProcessState)
		}
	}
}

// writePolicy puts a file into the watched directory atomically (written
// under a dotfile name the watcher ignores, then renamed).
func (s *stack) writePolicy(name, content string) {
	s.t.Helper()
	tmp := filepath.Join(s.policies, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(s.policies, name)); err != nil {
		s.t.Fatal(err)
	}
}

// removePolicy deletes a file from the watched directory.
func (s *stack) removePolicy(name string) {
	s.t.Helper()
	if err := os.Remove(filepath.Join(s.policies, name)); err != nil {
		s.t.Fatal(err)
	}
}

// waitRows polls the gateway until every row holds (or deadline passes,
// which fails the test) and returns how long that took since start.
func (s *stack) waitRows(step string, start time.Time, deadline time.Duration, rows []row) time.Duration {
	t := s.t
	t.Helper()
	var bad []string
	for end := start.Add(deadline); ; time.Sleep(20 * time.Millisecond) {
		s.checkAlive()
		bad = bad[:0]
		for _, r := range rows {
			if msg := r.check(s.gateway()); msg != "" {
				bad = append(bad, msg)
			}
		}
		if len(bad) == 0 {
			return time.Since(start)
		}
		if time.Now().After(end) {
			break
		}
	}
	t.Fatalf("step %s: after %s the gateway still disagrees:\n  %s", step, deadline, strings.Join(bad, "\n  "))
	return 0
}

// holdRows asserts that every row keeps holding for the whole period.
func (s *stack) holdRows(step string, period time.Duration, rows []row) {
	t := s.t
	t.Helper()
	for end := time.Now().Add(period); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		s.checkAlive()
		for _, r := range rows {
			if msg := r.check(s.gateway()); msg != "" {
				t.Fatalf("step %s: behaviour changed: %s", step, msg)
			}
		}
	}
}

// dropRejected writes a file jwtgate must reject into the watched
// directory and asserts that the last good configuration stays in force
// (every row keeps holding for 2s) and that jwtgate's log names the file.
func (s *stack) dropRejected(step, name, content string, rows []row) {
	s.t.Helper()
	s.writePolicy(name, content)
	s.holdRows(step, 2*time.Second, rows)
	if log, _ := os.ReadFile(s.jwtgate.log); !strings.Contains(string(log), name) {
		s.t.Errorf("step %s: jwtgate did not log the rejected file %s", step, name)
	}
}

// get fetches a URL on jwtgate's HTTP side or Envoy's admin and returns
// the body; a non-200 answer fails the test.
func (s *stack) get(url string) string {
	t := s.t
	t.Helper()
	resp, err := request(strings.TrimPrefix(url, "http://"), "GET", "", "")
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.status != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, resp.status)
	}
	return resp.body
}

// render returns an example file with the guide's placeholder JWKS replaced.
func render(t *testing.T, name, jwks string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	if jwks == "" {
		return string(b)
	}
	out, n := replaceJWKS(string(b), jwks)
	if n != 1 {
		t.Fatalf("examples/%s: want exactly one jwks line, found %d", name, n)
	}
	return out
}

// replaceJWKS swaps the value of every `jwks:` line for jwks (single-quoted
// YAML) and says how many lines it changed.
func replaceJWKS(doc, jwks string) (string, int) {
	lines := strings.Split(doc, "\n")
	n := 0
	for i, l := range lines {
		trimmed := strings.TrimLeft(l, " ")
		if strings.HasPrefix(trimmed, "jwks:") {
			indent := l[:len(l)-len(trimmed)]
			lines[i] = fmt.Sprintf("%sjwks: '%s'", indent, jwks)
			n++
		}
	}
	return strings.Join(lines, "\n"), n
}
