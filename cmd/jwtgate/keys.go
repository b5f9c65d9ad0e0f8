package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/jwtgate/jwtgate/jwks"
	"github.com/jwtgate/jwtgate/policies"
	"github.com/jwtgate/jwtgate/translate"
)

// updater is what the pusher drives: xds.Server.Update.
type updater interface {
	Update(*policies.Set) error
}

// keySource is what the pusher asks for keys: *jwks.Fetcher.
type keySource interface {
	Want([]jwks.Target)
	Keys() map[string]string
	Changes() <-chan struct{}
}

// pusher serialises every update of the xDS server, so the policy Set and
// the fetched keys of one push belong together: on a new Set it tells the
// fetcher which key URLs are wanted, on a key change it pushes the last Set
// again, and in both cases the translation reads the keys snapshot taken
// for that push (also for gateways that connect later, until the next
// push).
type pusher struct {
	srv   updater
	keys  keySource
	log   *slog.Logger
	trans func(*policies.Set, policies.Identity, translate.Options) (*translate.Resources, error)
	opts  translate.Options // JWKS is replaced by the snapshot

	mu   sync.Mutex    // serialises pushes
	last *policies.Set // last Set the server accepted

	snapshot atomic.Pointer[map[string]string] // keys of the current push
}

func newPusher(srv updater, keys keySource, log *slog.Logger, opts translate.Options,
	trans func(*policies.Set, policies.Identity, translate.Options) (*translate.Resources, error)) *pusher {
	p := &pusher{srv: srv, keys: keys, log: log, trans: trans, opts: opts}
	empty := map[string]string{}
	p.snapshot.Store(&empty)
	return p
}

// translate is the xds.TranslateFunc: the options with the keys snapshot
// of the current push.
func (p *pusher) translate(set *policies.Set, id policies.Identity) (*translate.Resources, error) {
	opts := p.opts
	opts.JWKS = *p.snapshot.Load()
	return p.trans(set, id, opts)
}

// publish pushes a new valid Set. With --jwks-fetcher envoy a Set naming
// a jwksUri that the SSRF guard refuses (remoteKeyProblems) is rejected
// and the Set in force stays. While it is being applied the fetcher
// keeps the key URLs of both the new and the last accepted Set, so a Set
// the server rejects does not cost the one in force its keys; afterwards
// only the new Set's URLs are kept. A new URL is fetched in the
// background and has no keys yet: its issuer fails closed until the fetch
// succeeds and keysChanged pushes again.
func (p *pusher) publish(set *policies.Set) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.opts.EnvoyFetchesKeys {
		if problems := remoteKeyProblems(set); len(problems) > 0 {
			for _, msg := range problems {
				p.log.Error("invalid policy", "error", msg)
			}
			p.log.Error("policy set not applied; the previous configuration stays", "hash", set.Hash,
				"error", fmt.Sprintf("%d jwksUri refused by the SSRF guard", len(problems)))
			return
		}
	}
	next := keyTargets(set, p.opts.EnvoyFetchesKeys)
	p.keys.Want(mergeTargets(keyTargets(p.last, p.opts.EnvoyFetchesKeys), next))
	if err := p.push(set); err != nil {
		p.log.Error("policy set not applied; the previous configuration stays", "hash", set.Hash, "error", err)
		return
	}
	p.last = set
	p.keys.Want(next)
}

// keysChanged pushes the last accepted Set again with the current keys.
func (p *pusher) keysChanged() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last == nil {
		return
	}
	if err := p.push(p.last); err != nil {
		p.log.Error("new JWKS keys not applied", "hash", p.last.Hash, "error", err)
	}
}

// push takes a keys snapshot and updates the server. p.mu is held.
func (p *pusher) push(set *policies.Set) error {
	keys := p.keys.Keys()
	prev := p.snapshot.Swap(&keys)
	if err := p.srv.Update(set); err != nil {
		p.snapshot.Store(prev)
		return err
	}
	return nil
}

// run re-pushes on every key change until ctx ends.
func (p *pusher) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.keys.Changes():
			p.keysChanged()
		}
	}
}

// mergeTargets is the union of two sorted target lists; for a URL in both,
// b's target wins.
func mergeTargets(a, b []jwks.Target) []jwks.Target {
	byURL := map[string]jwks.Target{}
	for _, t := range a {
		byURL[t.URL] = t
	}
	for _, t := range b {
		byURL[t.URL] = t
	}
	out := make([]jwks.Target, 0, len(byURL))
	for _, u := range slices.Sorted(maps.Keys(byURL)) {
		out = append(out, byURL[u])
	}
	return out
}
