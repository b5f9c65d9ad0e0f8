package policies

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatchOptions tunes Watch. Zero values mean the defaults.
type WatchOptions struct {
	// Quiet is how long the tree must have had no file events before it is
	// loaded, default 100ms.
	Quiet time.Duration
	// MaxDelay bounds the wait while events keep coming: the tree is loaded
	// at most MaxDelay after the first event of a burst, default 1s.
	MaxDelay time.Duration
	// Resync is the period of a full rescan, the backstop for changes
	// inotify cannot see, default 30s.
	Resync time.Duration
	Logger *slog.Logger
	// OnRecovered, if not nil, is called when a tree that was rejected is
	// valid again with the same Hash as the Set in force (typically: an
	// edit was undone). Nothing changed for Envoy, so publish is not called;
	// this says the rejection is over. A valid tree with a new Hash goes to
	// publish as usual, which also ends the rejection.
	OnRecovered func(*Set)
}

func (o WatchOptions) withDefaults() WatchOptions {
	if o.Quiet <= 0 {
		o.Quiet = 100 * time.Millisecond
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = time.Second
	}
	if o.MaxDelay < o.Quiet {
		o.MaxDelay = o.Quiet
	}
	if o.Resync <= 0 {
		o.Resync = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Watch loads path (a directory tree or a single file, as Load reads it),
// calls publish with the first valid Set, then watches the tree and calls
// publish with every new valid Set whose Hash differs from the last
// published one. publish and onError are called from Watch's goroutine,
// one at a time. An invalid tree is logged (every error) and passed to
// onError (may be nil); the last published Set stays in force, and until
// a first valid Set exists nothing is published. Watch returns when ctx is
// done (nil), or an error if path does not exist or cannot be watched.
//
// Any file system event means "rescan everything", but never at once: the
// tree is loaded only after it has been quiet (no events) for Quiet, and at
// most MaxDelay after the first event of a burst. This deliberately
// differs from Contour, which rebuilds an isolated change at once: the
// first event of a change is very often half of it. "cp" over an existing
// file truncates it first (an empty file is a valid tree without that
// policy), "git checkout" or a multi-file rewrite removes and writes
// files one by one, and an editor may write in pieces. Publishing such an
// intermediate tree, even for a few milliseconds, can drop a
// RequestAuthentication or an ALLOW policy and open the gate. Waiting for
// quiet costs Quiet of latency per change. A rescan also runs every Resync
// and after an inotify queue overflow, through the same quiet period.
func Watch(ctx context.Context, path string, opts WatchOptions, publish func(*Set), onError func(error)) error {
	path = filepath.Clean(path)
	opts = opts.withDefaults()
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("watch %s: %w", path, err)
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", path, err)
	}
	defer fw.Close()
	w := &watcher{path: path, root: path, opts: opts, log: opts.Logger, fw: fw, publish: publish, onError: onError}
	if !info.IsDir() {
		// A single file: watch its directory, so that a rename over the
		// file (editors, "mv") is seen too.
		w.single, w.root = true, filepath.Dir(path)
	}
	if err := fw.Add(w.root); err != nil {
		return fmt.Errorf("watch %s: %w", path, err)
	}
	w.rebuild("initial", 0, time.Time{})
	return w.loop(ctx)
}

// watcher is the state of one Watch call.
type watcher struct {
	path    string // what Load reads
	root    string // the directory watched first: path, or its directory
	single  bool   // path is a file
	opts    WatchOptions
	log     *slog.Logger
	fw      *fsnotify.Watcher
	publish func(*Set)
	onError func(error)
	last    *Set   // the last published Set, nil before the first
	lastErr string // the last load error, "" after a valid load
}

func (w *watcher) loop(ctx context.Context) error {
	resync := time.NewTicker(w.opts.Resync)
	defer resync.Stop()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var (
		pending    bool
		reason     string
		events     int
		firstEvent time.Time
	)
	// schedule (re)arms the timer: fire once Quiet has passed without
	// another call, but no later than MaxDelay after the first call.
	schedule := func(why string, event bool) {
		now := time.Now()
		if !pending {
			pending, reason, events, firstEvent = true, why, 0, now
		}
		if event {
			events++
		}
		wait := min(w.opts.Quiet, firstEvent.Add(w.opts.MaxDelay).Sub(now))
		timer.Reset(max(wait, 0))
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.fw.Events:
			if !ok {
				return errors.New("watch: event channel closed")
			}
			w.log.Debug("policy file event", "path", ev.Name, "op", ev.Op.String())
			schedule("change", true)
		case <-timer.C:
			if pending {
				pending = false
				w.rebuild(reason, events, firstEvent)
			}
		case err, ok := <-w.fw.Errors:
			if !ok {
				return errors.New("watch: error channel closed")
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("file event queue overflowed, rescanning policies", "path", w.path)
				schedule("overflow", false)
				continue
			}
			w.log.Error("watching policies", "path", w.path, "error", err)
		case <-resync.C:
			schedule("resync", false)
		}
	}
}

// rebuild syncs the watched directories, loads the tree and publishes a new
// valid Set. events is the number of file events that led here and
// firstEvent the time of the first (zero for the initial load).
func (w *watcher) rebuild(reason string, events int, firstEvent time.Time) {
	start := time.Now()
	w.syncWatches()
	set, err := Load(w.path)
	took := time.Since(start)
	if err != nil {
		w.report(err, reason)
		return
	}
	recovered := w.lastErr != ""
	w.lastErr = ""
	if w.last != nil && set.Hash == w.last.Hash {
		if recovered {
			w.log.Info("policies valid again; the set in force is unchanged", "reason", reason, "hash", set.Hash)
			if w.opts.OnRecovered != nil {
				w.opts.OnRecovered(set)
			}
			return
		}
		w.log.Debug("policies unchanged", "reason", reason, "hash", set.Hash, "took", took)
		return
	}
	changed := set.ChangedSince(w.last)
	for _, warn := range set.Warnings {
		w.log.Warn("policy warning", "warning", warn)
	}
	attrs := []any{"reason", reason, "hash", set.Hash, "changed", strings.Join(limit(changed, 20), " "),
		"gateways", len(set.Gateways), "virtualServices", len(set.VirtualServices),
		"requestAuthentications", len(set.RequestAuthentications),
		"authorizationPolicies", len(set.AuthorizationPolicies),
		"warnings", len(set.Warnings), "took", took}
	if !firstEvent.IsZero() {
		attrs = append(attrs, "events", events, "since_first_event", time.Since(firstEvent))
	}
	if recovered {
		attrs = append(attrs, "recovered", true)
	}
	w.log.Info("policies published", attrs...)
	w.last = set
	w.publish(set)
}

// report logs every load error (at Error the first time, at Debug while the
// same errors repeat) and passes the error on.
func (w *watcher) report(err error, reason string) {
	level := slog.LevelError
	if err.Error() == w.lastErr {
		level = slog.LevelDebug
	}
	w.lastErr = err.Error()
	kept := "keeping the last good set"
	if w.last == nil {
		kept = "no valid policy set yet"
	}
	var list ErrorList
	if errors.As(err, &list) {
		for _, fe := range list {
			w.log.Log(context.Background(), level, "invalid policy; "+kept,
				"file", fe.File, "line", fe.Line, "column", fe.Column, "field", fe.Field, "msg", fe.Msg)
		}
	} else {
		w.log.Log(context.Background(), level, "loading policies failed; "+kept, "error", err)
	}
	attrs := []any{"reason", reason, "errors", len(list)}
	if w.last != nil {
		attrs = append(attrs, "kept_hash", w.last.Hash)
	}
	w.log.Log(context.Background(), level, "policies rejected; "+kept, attrs...)
	if w.onError != nil {
		w.onError(err)
	}
}

// syncWatches watches every directory of the tree (following symlinked
// directories, skipping dot and temp names) and drops watches on
// directories that are gone. A single-file tree watches its directory only.
func (w *watcher) syncWatches() {
	want := map[string]bool{w.root: true}
	visited := map[string]bool{}
	var walk func(dir string)
	walk = func(dir string) {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil || visited[real] {
			return
		}
		visited[real] = true
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			if skipName(e.Name()) {
				continue
			}
			p := filepath.Join(dir, e.Name())
			if info, err := os.Stat(p); err == nil && info.IsDir() {
				want[p] = true
				walk(p)
			}
		}
	}
	if !w.single {
		walk(w.root)
	}
	have := map[string]bool{}
	for _, p := range w.fw.WatchList() {
		have[p] = true
		if !want[p] {
			_ = w.fw.Remove(p) // may already be gone with its directory
		}
	}
	for _, p := range sortedKeys(want) {
		if !have[p] {
			if err := w.fw.Add(p); err != nil {
				w.log.Warn("cannot watch directory", "dir", p, "error", err)
			}
		}
	}
}
