package policies

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
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

// waitFor returns the first published Set that satisfies ok, skipping
// others (a burst longer than MaxDelay may publish an intermediate tree).
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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

// collect returns every Set published until quiet for d.
func (r *watchRun) collect(d time.Duration) []*Set {
	var out []*Set
	for {
		select {
		case s := <-r.sets:
			out = append(out, s)
		case <-time.After(d):
			return out
		}
	}
}

// TestWatchNeverPublishesTruncatedFile is "cp new.yaml policies/x.yaml"
// over an existing file: the file is truncated (an empty file is a valid
// tree without the policy) and written a moment later. Publishing the
// empty state, even briefly, would open the gate; Watch must wait for
// quiet and publish only complete trees.
func TestWatchNeverPublishesTruncatedFile(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{"gw.yaml": gatewayNamed("v")})
	opts := WatchOptions{Quiet: 100 * time.Millisecond, MaxDelay: time.Second, Resync: time.Hour}
	r := startWatch(t, dir, opts)
	if s := r.nextSet(t, time.Second); gatewayNames(s) != "v" {
		t.Fatalf("first set = %s", gatewayNames(s))
	}
	path := filepath.Join(dir, "gw.yaml")
	for i := 0; i < 5; i++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		content := gatewayNamed("v") // the SAME content, as in the review
		if i == 4 {
			content = gatewayNamed("last")
		}
		if _, err := f.WriteString(content); err != nil {
			t.Fatal(err)
		}
		f.Close()
		time.Sleep(150 * time.Millisecond) // quiet: each rewrite is its own change
	}
	sets := r.collect(300 * time.Millisecond)
	for i, s := range sets {
		if len(s.Gateways) != 1 {
			t.Errorf("set %d has gateways %q: an intermediate (truncated) tree was published", i, gatewayNames(s))
		}
	}
	if len(sets) != 1 || gatewayNames(sets[0]) != "last" {
		t.Errorf("published %d sets, want exactly 1 (gateway last)", len(sets))
	}
}

// TestWatchMultiFileRewrite is a git checkout between two commits: files
// are removed and written one by one. No tree in between is published.
func TestWatchMultiFileRewrite(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{"a.yaml": gatewayNamed("a"), "b.yaml": gatewayNamed("b")})
	r := startWatch(t, dir, WatchOptions{Quiet: 100 * time.Millisecond, MaxDelay: time.Second, Resync: time.Hour})
	r.nextSet(t, time.Second)
	for i := 0; i < 3; i++ {
		a, b := fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)
		if err := os.Remove(filepath.Join(dir, "a.yaml")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		writeFile(t, filepath.Join(dir, "b.yaml"), gatewayNamed(b))
		time.Sleep(20 * time.Millisecond)
		writeFile(t, filepath.Join(dir, "a.yaml"), gatewayNamed(a))
		s := r.nextSet(t, time.Second)
		if got, want := gatewayNames(s), a+","+b; got != want {
			t.Fatalf("rewrite %d published gateways %q, want %q", i, got, want)
		}
	}
	if n, _ := r.drain(300 * time.Millisecond); n != 0 {
		t.Errorf("%d more sets published", n)
	}
}

// TestWatchIsolatedChangeWaitsForQuiet: a single change is published
// after Quiet (not at once), plus the time to scan.
func TestWatchIsolatedChangeWaitsForQuiet(t *testing.T) {
	dir := writeTree(t, map[string]string{"gw.yaml": gatewayNamed("one")})
	r := startWatch(t, dir, fastWatch)
	r.nextSet(t, time.Second)
	start := time.Now()
	writeFile(t, filepath.Join(dir, "gw2.yaml"), gatewayNamed("two"))
	s := r.nextSet(t, time.Second)
	took := time.Since(start)
	if gatewayNames(s) != "one,two" {
		t.Fatalf("gateways = %s", gatewayNames(s))
	}
	if took < fastWatch.Quiet || took > fastWatch.Quiet+400*time.Millisecond {
		t.Errorf("published %v after the write, want Quiet (%v) plus scan time", took, fastWatch.Quiet)
	}
}

// lockedBuffer is a bytes.Buffer for a slog handler used from Watch's
// goroutine while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// waitLog waits until the log holds want, and returns the log from
// *from on, moving *from past it.
func (l *lockedBuffer) waitLog(t *testing.T, from *int, want string) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		l.mu.Lock()
		s := l.b.String()[*from:]
		l.mu.Unlock()
		if i := strings.Index(s, want); i >= 0 {
			*from += i + len(want)
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("log never got %q; log since last check:\n%s", want, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWatchLogs checks what serve's log says through a rejected start,
// the first valid tree, a burst that adds, modifies and removes files, a
// rejection and a fix back to the content in force.
func TestWatchLogs(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{"gw.yaml": "kind: Nope\n", "c.yaml": "# c\n"})
	logs := &lockedBuffer{}
	opts := fastWatch
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	recovered := make(chan *Set, 10)
	opts.OnRecovered = func(s *Set) { recovered <- s }
	r := startWatch(t, dir, opts)
	pos := 0

	got := logs.waitLog(t, &pos, `msg="policies rejected; no valid policy set yet"`)
	if !strings.Contains(got, `msg="invalid policy; no valid policy set yet" file=`+filepath.Join(dir, "gw.yaml")) ||
		strings.Contains(got, "last good") {
		t.Errorf("startup with no valid set:\n%s", got)
	}

	writeFile(t, filepath.Join(dir, "gw.yaml"), gatewayNamed("one"))
	first := r.nextSet(t, time.Second)
	got = logs.waitLog(t, &pos, `msg="policies published"`)
	got += logs.waitLog(t, &pos, "\n")
	if !strings.Contains(got, `reason=change`) || !strings.Contains(got, `changed="+c.yaml +gw.yaml"`) ||
		!strings.Contains(got, "recovered=true") || !strings.Contains(got, "events=") || !strings.Contains(got, "since_first_event=") {
		t.Errorf("first publish:\n%s", got)
	}

	writeFile(t, filepath.Join(dir, "b.yaml"), gatewayNamed("b"))
	writeFile(t, filepath.Join(dir, "gw.yaml"), gatewayNamed("two"))
	if err := os.Remove(filepath.Join(dir, "c.yaml")); err != nil {
		t.Fatal(err)
	}
	good := r.nextSet(t, time.Second)
	got = logs.waitLog(t, &pos, `msg="policies published"`)
	got += logs.waitLog(t, &pos, "\n")
	if !strings.Contains(got, `changed="+b.yaml ~gw.yaml -c.yaml"`) || !strings.Contains(got, "hash="+good.Hash) ||
		strings.Contains(got, "recovered") || good.Hash == first.Hash {
		t.Errorf("burst publish:\n%s", got)
	}

	writeFile(t, filepath.Join(dir, "gw.yaml"), gwHead+"spec:\n  servers: nope\n")
	got = logs.waitLog(t, &pos, `msg="policies rejected; keeping the last good set"`)
	if !strings.Contains(got, `msg="invalid policy; keeping the last good set"`) || !strings.Contains(got, "kept_hash="+good.Hash) {
		t.Errorf("rejection:\n%s", got)
	}

	writeFile(t, filepath.Join(dir, "gw.yaml"), gatewayNamed("two")) // back to the content in force
	logs.waitLog(t, &pos, `msg="policies valid again; the set in force is unchanged" reason=change hash=`+good.Hash)
	select {
	case s := <-recovered:
		if s.Hash != good.Hash {
			t.Errorf("OnRecovered got hash %s, want %s", s.Hash, good.Hash)
		}
	case <-time.After(time.Second):
		t.Fatal("OnRecovered not called")
	}
	if n, _ := r.drain(200 * time.Millisecond); n != 0 {
		t.Errorf("the unchanged set was published again")
	}
}

// TestWatchSingleFile watches one file: edits and a rename over it are
// seen; other files in its directory are not part of the tree.
func TestWatchSingleFile(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{"gw.yaml": gatewayNamed("one")})
	path := filepath.Join(dir, "gw.yaml")
	r := startWatch(t, path, fastWatch)
	if s := r.nextSet(t, time.Second); gatewayNames(s) != "one" {
		t.Fatalf("first set = %s", gatewayNames(s))
	}
	writeFile(t, path, gatewayNamed("two"))
	r.waitFor(t, "gateway two", hasGateways("two"))
	writeFile(t, filepath.Join(dir, ".gw.yaml.tmp"), gatewayNamed("three"))
	if err := os.Rename(filepath.Join(dir, ".gw.yaml.tmp"), path); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "gateway three", hasGateways("three"))
	writeFile(t, filepath.Join(dir, "other.yaml"), gatewayNamed("other"))
	if n, _ := r.drain(300 * time.Millisecond); n != 0 {
		t.Errorf("a file beside the watched one was published")
	}
}
