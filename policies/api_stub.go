package policies

// STUB: owned by the policies helper; replace with real files (errors.go,
// decode.go, validate.go, load.go, watch.go) and delete this file.

import (
	"context"
	"log/slog"
	"time"
)

// FieldError is one problem in one document: file, 1-based line and column,
// the field path (e.g. "spec.jwtRules[0].jwks") and a message.
type FieldError struct {
	File   string
	Line   int
	Column int
	Field  string
	Msg    string
}

func (e *FieldError) Error() string { panic("unimplemented") }

// ErrorList is every problem found in a tree, sorted by file and line.
type ErrorList []*FieldError

func (l ErrorList) Error() string { panic("unimplemented") }

// Load reads every *.yaml/*.yml file under dir (recursively, skipping
// dotfiles and editor temp files), decodes and validates all documents and
// returns one Set, or an ErrorList with every problem found.
func Load(dir string) (*Set, error) { panic("unimplemented") }

// WatchOptions tunes Watch. Zero values mean the defaults.
type WatchOptions struct {
	Quiet    time.Duration // burst quiet period, default 100ms
	MaxDelay time.Duration // longest wait in a burst, default 1s
	Resync   time.Duration // periodic full rescan, default 30s
	Logger   *slog.Logger
}

// Watch loads dir, calls publish with the first valid Set, then watches the
// tree and calls publish with every new valid Set whose Hash differs from the
// last published one. An invalid tree is logged (every error) and the last
// good Set stays in force. onError (may be nil) receives each load error.
// Watch returns when ctx is done.
func Watch(ctx context.Context, dir string, opts WatchOptions, publish func(*Set), onError func(error)) error {
	panic("unimplemented")
}
