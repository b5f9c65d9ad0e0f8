package policies

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// watchRun runs Watch on dir in the background and records what it does.
type watchRun struct {
	sets chan *Set
	errs chan error
}

func startWatch(t *testing.T, dir string, opts WatchOptions) *watchRun {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &watchRun{sets: make(chan *Set, 1000), errs: make(chan error, 1000)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := Watch(ctx, dir, opts, func(s *Set) { r.sets <- s }, func(err error) { r.errs <- err }); err != nil {
			t.Errorf("Watch returned %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return r
}

func (r *watchRun) nextSet(t *testing.T, within time.Duration) *Set {
	t.Helper()
	select {
	case s := <-r.sets:
		return s
	case <-time.After(within):
		t.Fatalf("no Set published within %v", within)
		return nil
	}
}

// waitFor returns the first published Set that satisfies ok. Writes are not
// atomic, so a rebuild may first see a truncated file and publish that.
func (r *watchRun) waitFor(t *testing.T, what string, ok func(*Set) bool) *Set {
	t.Helper()
	deadline := time.After(time.Second)
	for {
		select {
		case s := <-r.sets:
			if ok(s) {
				return s
			}
		case <-deadline:
			t.Fatalf("no Set with %s published within 1s", what)
			return nil
		}
	}
}

func hasGateways(names string) func(*Set) bool {
	return func(s *Set) bool { return gatewayNames(s) == names }
}

// drain counts the Sets published until quiet for d, returning the last.
func (r *watchRun) drain(d time.Duration) (int, *Set) {
	n, last := 0, (*Set)(nil)
	for {
		select {
		case s := <-r.sets:
			n, last = n+1, s
		case <-time.After(d):
			return n, last
		}
	}
}

var fastWatch = WatchOptions{Quiet: 50 * time.Millisecond, MaxDelay: 250 * time.Millisecond, Resync: time.Hour}

func TestWatchPublishesChanges(t *testing.T) {
	dir := writeTree(t, map[string]string{"gw.yaml": gatewayNamed("one")})
	r := startWatch(t, dir, fastWatch)
	first := r.nextSet(t, time.Second)
	if len(first.Gateways) != 1 || first.Gateways[0].Metadata.Name != "one" {
		t.Fatalf("first set = %+v", first.Gateways)
	}

	start := time.Now()
	writeFile(t, filepath.Join(dir, "gw2.yaml"), gatewayNamed("two"))
	r.waitFor(t, "gateways one,two", hasGateways("one,two"))
	t.Logf("published %v after the write", time.Since(start))

	// A new subdirectory is watched too.
	writeFile(t, filepath.Join(dir, "new", "deeper", "gw3.yaml"), gatewayNamed("three"))
	r.waitFor(t, "gateways one,three,two", hasGateways("one,three,two"))
	writeFile(t, filepath.Join(dir, "new", "deeper", "gw3.yaml"), gatewayNamed("four"))
	r.waitFor(t, "gateways four,one,two", hasGateways("four,one,two"))
	// Touching a file without changing it publishes nothing.
	writeFile(t, filepath.Join(dir, "gw.yaml"), gatewayNamed("one"))
	if n, _ := r.drain(300 * time.Millisecond); n != 0 {
		t.Errorf("unchanged content published %d times", n)
	}
}

func gatewayNames(s *Set) string {
	var names []string
	for _, g := range s.Gateways {
		names = append(names, g.Metadata.Name)
	}
	return strings.Join(names, ",")
}

func TestWatchDebouncesBursts(t *testing.T) {
	dir := t.TempDir()
	r := startWatch(t, dir, fastWatch)
	r.nextSet(t, time.Second) // the empty tree
	for i := 0; i < 50; i++ {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("gw%02d.yaml", i)), gatewayNamed(fmt.Sprintf("gw%02d", i)))
	}
	n, last := r.drain(500 * time.Millisecond)
	if n < 1 || n > 3 {
		t.Errorf("a burst of 50 writes published %d Sets, want 1-3", n)
	}
	if last == nil || len(last.Gateways) != 50 {
		t.Fatalf("last set has %d gateways, want 50", len(last.Gateways))
	}
}

func TestWatchMaxDelay(t *testing.T) {
	dir := t.TempDir()
	r := startWatch(t, dir, fastWatch)
	r.nextSet(t, time.Second)
	// Events every 20ms (inside Quiet) for 1s: MaxDelay must still publish.
	deadline := time.Now().Add(time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		writeFile(t, filepath.Join(dir, "gw.yaml"), gatewayNamed(fmt.Sprintf("gw%d", i)))
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(r.sets); n < 3 {
		t.Errorf("during a 1s burst with MaxDelay 250ms, %d Sets were published, want at least 3", n)
	}
}

func TestWatchKeepsLastGoodSet(t *testing.T) {
	dir := writeTree(t, map[string]string{"gw.yaml": gatewayNamed("good")})
	r := startWatch(t, dir, fastWatch)
	good := r.nextSet(t, time.Second)

	writeFile(t, filepath.Join(dir, "bad.yaml"), gwHead+"spec:\n  servers: nope\n")
	select {
	case err := <-r.errs:
		var list ErrorList
		if !errors.As(err, &list) || len(list) != 1 || list[0].Field != "spec.servers" || list[0].Line != 6 {
			t.Fatalf("onError got %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("onError not called for a broken file")
	}
	if n, _ := r.drain(200 * time.Millisecond); n != 0 {
		t.Fatalf("a broken tree was published")
	}

	writeFile(t, filepath.Join(dir, "bad.yaml"), gatewayNamed("fixed"))
	if s := r.waitFor(t, "gateways fixed,good", hasGateways("fixed,good")); s.Hash == good.Hash {
		t.Fatal("fixed tree has the old hash")
	}
}

func TestWatchInvalidAtStartThenFixed(t *testing.T) {
	dir := writeTree(t, map[string]string{"gw.yaml": "kind: Nope\n"})
	r := startWatch(t, dir, fastWatch)
	select {
	case <-r.errs:
	case <-time.After(time.Second):
		t.Fatal("onError not called for the initial broken tree")
	}
	writeFile(t, filepath.Join(dir, "gw.yaml"), okGateway)
	r.waitFor(t, "gateway gw", hasGateways("gw"))
}

func TestWatchResync(t *testing.T) {
	// dir/gw.yaml links to a file outside the tree: inotify on dir sees no
	// event when the target changes, so only the periodic rescan notices.
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "gw.yaml"), gatewayNamed("before"))
	dir := t.TempDir()
	mustSymlink(t, filepath.Join(outside, "gw.yaml"), filepath.Join(dir, "gw.yaml"))
	opts := fastWatch
	opts.Resync = 150 * time.Millisecond
	r := startWatch(t, dir, opts)
	if s := r.nextSet(t, time.Second); gatewayNames(s) != "before" {
		t.Fatalf("first set = %s", gatewayNames(s))
	}
	writeFile(t, filepath.Join(outside, "gw.yaml"), gatewayNamed("after"))
	r.waitFor(t, "gateway after", hasGateways("after"))
}

func TestWatchMissingDir(t *testing.T) {
	err := Watch(context.Background(), filepath.Join(t.TempDir(), "nope"), fastWatch, func(*Set) {}, nil)
	if err == nil {
		t.Fatal("Watch on a missing dir returned nil")
	}
}
