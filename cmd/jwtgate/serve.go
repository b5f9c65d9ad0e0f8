package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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

With --jwks-fetcher envoy, Envoy fetches the keys of rules with jwksUri itself
(remote_jwks through a generated cluster; https validated against
--envoy-ca-file on Envoy's machine); jwtgate still fetches OIDC discovery
keys (rules without jwksUri). Envoy has no SSRF guard: a policy set with a
jwksUri on a metadata host name or a literal link-local or metadata address is
rejected, but a host name that resolves to one is not caught in this mode.

The HTTP side (--http-addr) serves /healthz, /readyz (200 once a policy set
has been pushed and the first fetch of each of its key URLs has completed,
else 503) and /metrics (Prometheus text).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: a.serve,
	}
	f := cmd.Flags()
	f.String("policies", "./examples", "policy folder to watch")
	f.String("xds-addr", ":18000", "gRPC ADS listen address")
	f.String("http-addr", "127.0.0.1:18001", "health, readiness, metrics and /debug/status listen address")
	addTranslateFlags(f)
	f.String("jwks-refresh", jwks.DefaultRefresh.String(), "how often keys from jwksUri / OIDC discovery are fetched again (at least 1s)")
	return cmd
}

// addTranslateFlags defines the flags that shape the Envoy configuration,
// shared by serve and render so both translate alike.
func addTranslateFlags(f *pflag.FlagSet) {
	f.Int32("port-offset", 0, "added to every Gateway port for the Envoy listener (80+8000 = 8080)")
	f.String("listener-address", translate.DefaultListenerAddress, "IP address the Envoy listeners bind (127.0.0.1 keeps a local gateway off the network; :: for IPv6)")
	f.StringSlice("resolve", nil, "host=IP[:PORT]: send a destination host to a fixed address, repeatable")
	f.Uint32("no-token-status", 401, "status for a missing token that authorization requires: 401 or 403")
	f.String("root-namespace", policies.DefaultRootNamespace, "namespace whose selector-less policies apply to every gateway")
	f.Uint32("xff-trusted-hops", 0, "X-Forwarded-For hops to trust for the client address")
	f.String("server-name", translate.DefaultServerName, "value of the server response header Envoy sends (replacing the upstream's)")
	addFetcherFlag(f)
	f.String("envoy-ca-file", translate.DefaultCAFile, "CA bundle on Envoy's machine that https jwksUri servers are validated against (--jwks-fetcher envoy)")
}

// addFetcherFlag defines --jwks-fetcher (serve, render, validate).
func addFetcherFlag(f *pflag.FlagSet) {
	f.String("jwks-fetcher", fetcherJWTGate, "who fetches the keys of a jwksUri: jwtgate (fetch and inline) or envoy (remote_jwks; OIDC discovery stays with jwtgate)")
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
	listen, err := parseListenerAddress(a.str("listener-address"))
	if err != nil {
		return opts, err
	}
	envoyFetches, err := a.envoyFetches()
	if err != nil {
		return opts, err
	}
	caFile := strings.TrimSpace(a.str("envoy-ca-file"))
	if caFile == "" {
		return opts, usageErr("--envoy-ca-file must not be empty")
	}
	return translate.Options{
		ListenerAddress:   listen,
		ServerName:        server,
		RootNamespace:     ns,
		PortOffset:        int32(offset),
		Resolve:           resolve,
		NoTokenStatus:     uint32(status),
		XFFNumTrustedHops: uint32(hops),
		JWKS:              map[string]string{},
		EnvoyFetchesKeys:  envoyFetches,
		CAFile:            caFile,
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

// parseListenerAddress checks the IP literal for the Envoy listeners
// (Envoy's socket_address takes an IP; a host name or a zone would be
// NACKed) and returns its canonical form.
func parseListenerAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	addr, err := translate.CheckListenerAddress(s)
	if err != nil {
		return "", usageErr("--listener-address %q: want an IP address such as 0.0.0.0, 127.0.0.1 or ::", s)
	}
	return addr, nil
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
	dir := a.str("policies")
	if err := checkPolicyFolder(dir); err != nil {
		return err
	}
	// An issuer whose jwksUri keys have not been fetched (yet, or ever) gets
	// a fixed public key that nobody holds the private key of, so its
	// tokens fail closed (401) instead of passing. It is the same key on
	// every start and replica, so it does not change snapshot versions.
	if opts.FailClosedJWKS, err = jwks.FailClosedJWKS(); err != nil {
		return err
	}
	log := a.log
	a.logSettings(cmd, dir, opts, refresh)

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
		// A rejected tree that is valid again with the content in force
		// changes nothing for Envoy; pushing it again counts the good reload
		// and logs "policy set accepted ... changed=0".
		wopts := policies.WatchOptions{Logger: log, OnRecovered: p.publish}
		if err := a.watch(ctx, dir, wopts, p.publish, srv.ReportLoadError); err != nil {
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

// checkPolicyFolder fails with a usage error unless dir is an existing
// folder: serve watches a folder, and a typo in --policies must not leave a
// server running that never gets a policy.
func checkPolicyFolder(dir string) error {
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usageErr("--policies %s: no such folder", dir)
	case err != nil:
		return usageErr("--policies %s: %v", dir, err)
	case !info.IsDir():
		return usageErr("--policies %s: not a folder (serve watches a folder; validate and render also take single files)", dir)
	}
	return nil
}

// logSettings logs every effective serve setting once, with where each
// non-default one came from (flag, env or config), so a start-up log
// answers "which settings is this server running with?".
func (a *app) logSettings(cmd *cobra.Command, dir string, opts translate.Options, refresh time.Duration) {
	resolve := make([]string, 0, len(opts.Resolve))
	for _, h := range slices.Sorted(maps.Keys(opts.Resolve)) {
		resolve = append(resolve, h+"="+opts.Resolve[h])
	}
	keys := []string{"policies", "xds-addr", "http-addr", "port-offset", "listener-address", "resolve",
		"root-namespace", "no-token-status", "xff-trusted-hops", "server-name", "jwks-refresh", "jwks-fetcher", "envoy-ca-file"}
	var from []string
	for _, k := range keys {
		if src := a.source(cmd, k); src != "default" {
			from = append(from, k+"="+src)
		}
	}
	a.log.Info("settings",
		"config", a.str("config"),
		"policies", dir,
		"xds-addr", a.str("xds-addr"),
		"http-addr", a.str("http-addr"),
		"port-offset", opts.PortOffset,
		"listener-address", opts.ListenerAddress,
		"resolve", strings.Join(resolve, ","),
		"root-namespace", opts.RootNamespace,
		"no-token-status", opts.NoTokenStatus,
		"xff-trusted-hops", opts.XFFNumTrustedHops,
		"server-name", opts.ServerName,
		"jwks-refresh", refresh.String(),
		"jwks-fetcher", fetcherName(opts.EnvoyFetchesKeys),
		"envoy-ca-file", opts.CAFile,
		"set_by", strings.Join(from, ","))
}

// fetcherName is the --jwks-fetcher value for the mode.
func fetcherName(envoyFetches bool) string {
	if envoyFetches {
		return fetcherEnvoy
	}
	return fetcherJWTGate
}

// source says where a setting's value comes from: flag, env, config or
// default, in viper's order of precedence.
func (a *app) source(cmd *cobra.Command, key string) string {
	if f := cmd.Flags().Lookup(key); f != nil && f.Changed {
		return "flag"
	}
	if _, ok := os.LookupEnv("JWTGATE_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))); ok {
		return "env"
	}
	if a.v.InConfig(key) {
		return "config"
	}
	return "default"
}

// updateFunc adapts a function to the pusher's updater.
type updateFunc func(*policies.Set) error

func (f updateFunc) Update(set *policies.Set) error { return f(set) }

// httpHandler serves /healthz, /readyz, /metrics (the xDS server's
// metrics followed by the key fetcher's) and /debug/status (the xDS
// server's view of the policy set, gateway groups and Envoy streams).
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
	mux.Handle("/debug/status", srv.StatusHandler())
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
