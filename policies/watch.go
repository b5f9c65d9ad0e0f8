package policies

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatchOptions tunes Watch. Zero values mean the defaults.
type WatchOptions struct {
	Quiet    time.Duration // burst quiet period, default 100ms
	MaxDelay time.Duration // longest wait in a burst, default 1s
	Resync   time.Duration // periodic full rescan, default 30s
	Logger   *slog.Logger
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

// Watch loads dir, calls publish with the first valid Set, then watches the
// tree and calls publish with every new valid Set whose Hash differs from the
// last published one. An invalid tree is logged (every error) and the last
// good Set stays in force. onError (may be nil) receives each load error.
// Watch returns when ctx is done (nil), or an error if dir cannot be watched.
//
// Any file system event means "rescan everything". An isolated event
// rebuilds at once; events during a burst wait until Quiet has passed
// without events, but never longer than MaxDelay after the first of them.
// A rescan also runs every Resync and after an inotify queue overflow.
func Watch(ctx context.Context, dir string, opts WatchOptions, publish func(*Set), onError func(error)) error {
	dir = filepath.Clean(dir)
	opts = opts.withDefaults()
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	defer fw.Close()
	w := &watcher{dir: dir, opts: opts, log: opts.Logger, fw: fw, publish: publish, onError: onError}
	if err := fw.Add(dir); err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	w.rebuild("initial")
	return w.loop(ctx)
}

// watcher is the state of one Watch call.
type watcher struct {
	dir      string
	opts     WatchOptions
	log      *slog.Logger
	fw       *fsnotify.Watcher
	publish  func(*Set)
	onError  func(error)
	lastHash string
	lastErr  string
}

func (w *watcher) loop(ctx context.Context) error {
	resync := time.NewTicker(w.opts.Resync)
	defer resync.Stop()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var (
		pending      bool
		firstPending time.Time
		lastBuild    = time.Now()
	)
	build := func(reason string) {
		pending = false
		timer.Stop()
		w.rebuild(reason)
		lastBuild = time.Now()
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
			now := time.Now()
			if !pending && now.Sub(lastBuild) >= w.opts.Quiet {
				build("change") // isolated change: leading edge
				continue
			}
			if !pending {
				pending, firstPending = true, now
			}
			wait := w.opts.Quiet
			if limit := firstPending.Add(w.opts.MaxDelay).Sub(now); limit < wait {
				wait = limit
			}
			timer.Reset(max(wait, 0))
		case <-timer.C:
			if pending {
				build("burst")
			}
		case err, ok := <-w.fw.Errors:
			if !ok {
				return errors.New("watch: error channel closed")
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("file event queue overflowed, rescanning policies", "dir", w.dir)
				build("overflow")
				continue
			}
			w.log.Error("watching policies", "dir", w.dir, "error", err)
		case <-resync.C:
			build("resync")
		}
	}
}

// rebuild syncs the watched directories, loads the tree and publishes a new
// valid Set.
func (w *watcher) rebuild(reason string) {
	start := time.Now()
	w.syncWatches()
	set, err := Load(w.dir)
	took := time.Since(start)
	if err != nil {
		w.report(err, reason)
		return
	}
	w.lastErr = ""
	if set.Hash == w.lastHash {
		w.log.Debug("policies unchanged", "reason", reason, "hash", set.Hash, "took", took)
		return
	}
	w.lastHash = set.Hash
	for _, warn := range set.Warnings {
		w.log.Warn("policy warning", "warning", warn)
	}
	w.log.Info("policies published", "reason", reason, "hash", set.Hash,
		"gateways", len(set.Gateways), "virtualServices", len(set.VirtualServices),
		"requestAuthentications", len(set.RequestAuthentications),
		"authorizationPolicies", len(set.AuthorizationPolicies),
		"warnings", len(set.Warnings), "took", took)
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
	var list ErrorList
	if errors.As(err, &list) {
		for _, fe := range list {
			w.log.Log(context.Background(), level, "invalid policy; keeping the last good set",
				"file", fe.File, "line", fe.Line, "column", fe.Column, "field", fe.Field, "msg", fe.Msg)
		}
	} else {
		w.log.Log(context.Background(), level, "loading policies failed; keeping the last good set", "error", err)
	}
	w.log.Log(context.Background(), level, "policies rejected", "reason", reason, "errors", len(list))
	if w.onError != nil {
		w.onError(err)
	}
}

// syncWatches watches every directory of the tree (following symlinked
// directories, skipping dot and temp names) and drops watches on
// directories that are gone.
func (w *watcher) syncWatches() {
	want := map[string]bool{w.dir: true}
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
	walk(w.dir)
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
