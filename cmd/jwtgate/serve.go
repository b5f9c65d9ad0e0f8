package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/jwtgate/jwtgate/jwks"
	"github.com/jwtgate/jwtgate/policies"
	"github.com/jwtgate/jwtgate/translate"
	"github.com/jwtgate/jwtgate/xds"
)

// shutdownTimeout bounds graceful shutdown of the gRPC and HTTP servers.
const shutdownTimeout = 5 * time.Second

func (a *app) serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Watch a policy folder and serve it to Envoy over ADS",
		Long: `serve watches --policies, translates every valid version of the tree for each
connected gateway and pushes it over ADS (SotW and Delta) on --xds-addr. An
invalid tree is logged and the last good configuration stays in force.

Keys of a RequestAuthentication rule with jwksUri (or, without it, from the
issuer's OIDC discovery document) are fetched by jwtgate and inlined, then
fetched again every --jwks-refresh; on failure the last good keys stay, and an
issuer that has none fails closed (every token 401). Link-local and cloud
metadata addresses are never contacted.

The HTTP side (--http-addr) serves /healthz, /readyz (200 once a policy set
has been pushed and the first fetch of each of its key URLs has completed,
else 503) and /metrics (Prometheus text).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: a.serve,
	}
	f := cmd.Flags()
	f.String("policies", "./examples", "policy folder to watch")
	f.String("xds-addr", ":18000", "gRPC ADS listen address")
	f.String("http-addr", "127.0.0.1:18001", "health, readiness and metrics listen address")
	f.Int32("port-offset", 0, "added to every Gateway port for the Envoy listener (80+8000 = 8080)")
	f.StringSlice("resolve", nil, "host=IP[:PORT]: send a destination host to a fixed address, repeatable")
	f.Uint32("no-token-status", 401, "status for a missing token that authorization requires: 401 or 403")
	f.String("root-namespace", policies.DefaultRootNamespace, "namespace whose selector-less policies apply to every gateway")
	f.Uint32("xff-trusted-hops", 0, "X-Forwarded-For hops to trust for the client address")
	f.String("server-name", translate.DefaultServerName, "value of the server response header Envoy sends (replacing the upstream's)")
	f.String("jwks-refresh", jwks.DefaultRefresh.String(), "how often keys from jwksUri / OIDC discovery are fetched again (at least 1s)")
	return cmd
}

// translateOptions reads the translation settings.
func (a *app) translateOptions(cmd *cobra.Command) (translate.Options, error) {
	var opts translate.Options
	offset, err := a.integer("port-offset", 0, 65535)
	if err != nil {
		return opts, err
	}
	status, err := a.integer("no-token-status", 401, 403)
	if err != nil || (status != 401 && status != 403) {
		return opts, usageErr("--no-token-status: want 401 or 403")
	}
	hops, err := a.integer("xff-trusted-hops", 0, 64)
	if err != nil {
		return opts, err
	}
	resolve, err := parseResolve(a.list(cmd, "resolve", ","))
	if err != nil {
		return opts, err
	}
	ns := a.str("root-namespace")
	if ns == "" {
		return opts, usageErr("--root-namespace must not be empty")
	}
	server := a.str("server-name")
	if !validServerName(server) {
		return opts, usageErr("--server-name %q: want 1-256 visible ASCII characters or spaces", server)
	}
	return translate.Options{
		ServerName:        server,
		RootNamespace:     ns,
		PortOffset:        int32(offset),
		Resolve:           resolve,
		NoTokenStatus:     uint32(status),
		XFFNumTrustedHops: uint32(hops),
		JWKS:              map[string]string{},
	}, nil
}

// validServerName reports whether s can be sent as a server header value:
// not empty, at most 256 bytes, visible ASCII or inner spaces only (no
// control characters that could split or fold the header).
func validServerName(s string) bool {
	if s == "" || len(s) > 256 || strings.TrimSpace(s) != s {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// parseResolve parses host=IP[:PORT] entries.
func parseResolve(entries []string) (map[string]string, error) {
	out := map[string]string{}
	for _, e := range entries {
		host, addr, ok := strings.Cut(e, "=")
		host, addr = strings.TrimSpace(host), strings.TrimSpace(addr)
		if !ok || host == "" || addr == "" {
			return nil, usageErr("--resolve %q: want host=IP[:PORT]", e)
		}
		if _, err := netip.ParseAddr(addr); err != nil {
			if ap, err := netip.ParseAddrPort(addr); err != nil || ap.Port() == 0 {
				return nil, usageErr("--resolve %q: %q is not an IP or IP:PORT", e, addr)
			}
		}
		if prev, dup := out[host]; dup && prev != addr {
			return nil, usageErr("--resolve: %s given twice (%s and %s)", host, prev, addr)
		}
		out[host] = addr
	}
	return out, nil
}

func (a *app) serve(cmd *cobra.Command, _ []string) error {
	opts, err := a.translateOptions(cmd)
	if err != nil {
		return err
	}
	refresh, err := a.duration("jwks-refresh")
	if err != nil {
		return err
	}
	if refresh < time.Second {
		return usageErr("--jwks-refresh %s: want at least 1s", refresh)
	}
	// An issuer whose jwksUri keys have not been fetched (yet, or ever) gets
	// a fixed public key that nobody holds the private key of, so its
	// tokens fail closed (401) instead of passing. It is the same key on
	// every start and replica, so it does not change snapshot versions.
	if opts.FailClosedJWKS, err = jwks.FailClosedJWKS(); err != nil {
		return err
	}
	dir := a.str("policies")
	log := a.log

	fetcher := jwks.NewFetcher(jwks.Options{Refresh: refresh, Logger: log})
	defer fetcher.Close()
	var srv *xds.Server
	p := newPusher(updateFunc(func(set *policies.Set) error { return srv.Update(set) }), fetcher, log, opts, a.translate)
	srv = xds.New(p.translate, log)

	xdsLis, err := net.Listen("tcp", a.str("xds-addr"))
	if err != nil {
		return fmt.Errorf("xds listener: %w", err)
	}
	httpLis, err := net.Listen("tcp", a.str("http-addr"))
	if err != nil {
		xdsLis.Close()
		return fmt.Errorf("http listener: %w", err)
	}

	g := grpc.NewServer(grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
		MinTime: 10 * time.Second, PermitWithoutStream: true,
	}))
	srv.Register(g)
	hs := &http.Server{Handler: httpHandler(srv, fetcher), ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 3)
	go func() { errc <- wrap("xds server", g.Serve(xdsLis)) }()
	go func() {
		if err := hs.Serve(httpLis); !errors.Is(err, http.ErrServerClosed) {
			errc <- wrap("http server", err)
		}
	}()
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		if err := a.watch(ctx, dir, policies.WatchOptions{Logger: log}, p.publish, srv.ReportLoadError); err != nil {
			errc <- wrap("policy watch", err)
		}
	}()
	pushDone := make(chan struct{})
	go func() {
		defer close(pushDone)
		p.run(ctx)
	}()
	log.Info("jwtgate serving", "version", buildVersion(), "policies", dir,
		"xds_addr", xdsLis.Addr().String(), "http_addr", httpLis.Addr().String())

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-errc:
		log.Error("stopping", "error", runErr)
	}
	stop()
	srv.Shutdown() // ends the ADS streams so GracefulStop can finish
	stopped := make(chan struct{})
	go func() { g.GracefulStop(); close(stopped) }()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	select {
	case <-stopped:
	case <-sctx.Done():
		g.Stop()
	}
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	<-watchDone
	<-pushDone
	return runErr
}

// updateFunc adapts a function to the pusher's updater.
type updateFunc func(*policies.Set) error

func (f updateFunc) Update(set *policies.Set) error { return f(set) }

// httpHandler serves /healthz, /readyz and /metrics (the xDS server's
// metrics followed by the key fetcher's).
func httpHandler(srv *xds.Server, fetcher *jwks.Fetcher) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	ready := readiness(srv.Ready, fetcher.Settled)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if msg := ready(); msg != "" {
			http.Error(w, "not ready: "+msg, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		srv.Metrics().WriteTo(w)
		fetcher.WriteMetrics(w)
	})
	return mux
}

// readiness returns a check that says why jwtgate is not ready yet, or ""
// once a policy set has been pushed and the first fetch of every key URL
// it wants has completed (successfully or not), so start-up ordering does
// not report a gateway ready while its jwksUri issuers still fail closed
// only because their keys are on the way. Once ready it stays ready: later
// fetches change keys, not readiness (failures keep the last good keys).
func readiness(pushed, settled func() bool) func() string {
	var latched atomic.Bool
	return func() string {
		switch {
		case latched.Load():
			return ""
		case !pushed():
			return "no valid policy set pushed yet"
		case !settled():
			return "first fetch of jwksUri / OIDC discovery keys still running"
		}
		latched.Store(true)
		return ""
	}
}

func wrap(what string, err error) error {
	if err == nil {
		return fmt.Errorf("%s stopped", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}
