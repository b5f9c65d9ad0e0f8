package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// prober sends tokenless GET / requests to the gateway in a loop, each on
// a fresh connection (request), about every 2ms, and counts the answers.
type prober struct {
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	statuses map[int]int
	errors   int
	samples  []string // the first few answers other than 401
}

// probeGateway starts a prober against the stack's gateway.
func (s *stack) probeGateway() *prober {
	p := &prober{stop: make(chan struct{}), done: make(chan struct{}), statuses: map[int]int{}}
	start := time.Now()
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			default:
			}
			resp, err := request(s.gateway(), "GET", "/get", "")
			p.mu.Lock()
			switch {
			case err != nil:
				p.errors++
			default:
				p.statuses[resp.status]++
			}
			if (err != nil || resp.status != 401) && len(p.samples) < 5 {
				what := fmt.Sprint(err)
				if err == nil {
					what = fmt.Sprintf("%d %.80q", resp.status, resp.body)
				}
				p.samples = append(p.samples, fmt.Sprintf("+%dms: %s", time.Since(start).Milliseconds(), what))
			}
			p.mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return p
}

// finish stops the loop and fails the test unless every answer was a 401
// (and the loop sent at least minRequests, so it watched the whole step).
func (p *prober) finish(t *testing.T, step string, minRequests int) {
	t.Helper()
	close(p.stop)
	<-p.done
	total, codes := p.errors, []int{}
	for code, n := range p.statuses {
		total += n
		codes = append(codes, code)
	}
	slices.Sort(codes)
	var counts []string
	for _, c := range codes {
		counts = append(counts, fmt.Sprintf("%dx %d", p.statuses[c], c))
	}
	if p.errors > 0 {
		counts = append(counts, fmt.Sprintf("%dx error", p.errors))
	}
	summary := strings.Join(counts, ", ")
	t.Logf("step %s: %d tokenless requests: %s", step, total, summary)
	if p.statuses[200] > 0 {
		t.Errorf("step %s: the gate opened: %d of %d tokenless requests got 200 (%s); first: %s",
			step, p.statuses[200], total, summary, strings.Join(p.samples, "; "))
	} else if p.statuses[401] != total {
		t.Errorf("step %s: want every tokenless request 401, got %s; first: %s",
			step, summary, strings.Join(p.samples, "; "))
	}
	if total < minRequests {
		t.Errorf("step %s: only %d requests sent, want at least %d", step, total, minRequests)
	}
}

// cpOver rewrites path in place the way cp(1) does over an existing file:
// open with O_TRUNC (the file is now empty), a short pause, write, close.
func cpOver(t *testing.T, path string, content []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if _, err := f.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkoutRewrite rewrites path the way git checkout does: unlink, a short
// pause (git works through the index), then create and write the content.
func checkoutRewrite(t *testing.T, path string, content []byte) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Millisecond)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestWatchNoIntermediateSets (UX review item 1): file operations that pass
// through an intermediate state must never publish it. With the guide's
// 00+10+20 in force (a JWT required), a loop of tokenless requests runs
// while (a) 20-require-jwt.yaml is rewritten in place with the same content
// five times like cp does (truncated, then written 5ms later), (b) a
// checkout rewrites 10 and 20 (unlink + create each, a few ms apart; the
// order alternates) five times, (c) the README's order to swap policies:
// cp 30-issuer-subject.yaml, then rm 20-require-jwt.yaml. Every tokenless
// request must get 401: a single 200 means an intermediate Set (an empty
// file, a deleted policy) reached Envoy. The changes of one step are 300ms
// apart, longer than the watcher's quiet period, so each is an isolated
// change a leading-edge debounce would publish at once.
func TestWatchNoIntermediateSets(t *testing.T) {
	s, tok := newGuideStack(t, "envoy-local.yaml")
	required := row{name: "no JWT (required)", want: 401, challengePrefix: "Bearer realm="}
	s.coldStart("00+10+20 (cold start)", required, row{name: "valid JWT", auth: bearer(tok), want: 200})
	s.waitReady()

	const (
		rounds  = 5
		spacing = 300 * time.Millisecond // between isolated changes
		settle  = 500 * time.Millisecond // after the last one: any publish has reached Envoy
		minReqs = 100                    // the loop ran for the whole step
	)
	path := func(name string) string { return filepath.Join(s.policies, name) }
	read := func(name string) []byte {
		b, err := os.ReadFile(path(name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	require, authn := read("20-require-jwt.yaml"), read("10-requestauthentication.yaml")

	// (a) cp 20-require-jwt.yaml over itself, five times.
	p := s.probeGateway()
	for range rounds {
		time.Sleep(spacing)
		cpOver(t, path("20-require-jwt.yaml"), require)
	}
	time.Sleep(settle)
	p.finish(t, "cp over 20-require-jwt.yaml", minReqs)
	s.checkAlive()

	// (b) a checkout rewriting 10 and 20 (same content), five times.
	p = s.probeGateway()
	for i := range rounds {
		time.Sleep(spacing)
		files := []struct {
			name    string
			content []byte
		}{{"10-requestauthentication.yaml", authn}, {"20-require-jwt.yaml", require}}
		if i%2 == 1 {
			slices.Reverse(files)
		}
		for j, f := range files {
			if j > 0 {
				time.Sleep(3 * time.Millisecond)
			}
			checkoutRewrite(t, path(f.name), f.content)
		}
	}
	time.Sleep(settle)
	p.finish(t, "checkout rewriting 10 and 20", minReqs)
	s.checkAlive()

	// (c) the README's swap: cp 30 first, then rm 20. A token without the
	// subject 30 asks for shows when the swap is in force.
	p = s.probeGateway()
	time.Sleep(spacing)
	cpOver(t, path("30-issuer-subject.yaml"), []byte(render(t, "30-issuer-subject.yaml", "")))
	time.Sleep(spacing)
	s.apply("cp 30, then rm 20", func() { s.removePolicy("20-require-jwt.yaml") },
		row{name: "iss-only JWT, policy wants iss/sub", auth: bearer(tok), want: 403, bodyContains: "RBAC: access denied"},
		required)
	time.Sleep(settle)
	p.finish(t, "cp 30-issuer-subject.yaml, rm 20-require-jwt.yaml", minReqs)
	s.assertNoNACKs()
}
