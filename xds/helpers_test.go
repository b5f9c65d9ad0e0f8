package xds

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/jwtgate/jwtgate/policies"
	"github.com/jwtgate/jwtgate/translate"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fake is an injected translation: resources named after the identity's
// namespace and the set's hash. A set whose hash is in fail fails for
// identities whose namespace is listed there ("*" for all).
type fake struct {
	mu    sync.Mutex
	calls map[string]int // by GroupKey
	fail  map[string]string
}

func newFake() *fake { return &fake{calls: map[string]int{}, fail: map[string]string{}} }

func (f *fake) translate(set *policies.Set, id policies.Identity) (*translate.Resources, error) {
	f.mu.Lock()
	f.calls[GroupKey(id)]++
	ns, failing := f.fail[set.Hash]
	f.mu.Unlock()
	if failing && (ns == "*" || ns == id.Namespace) {
		return nil, errors.New("translation failed on purpose")
	}
	if set.Hash == "nolisteners" {
		return &translate.Resources{Clusters: []*clusterv3.Cluster{{Name: "c-" + id.Namespace}}}, nil
	}
	if set.Hash == "inconsistent" {
		res := resourcesFor("x")
		res.Routes = nil // the listener names a route that is missing
		return res, nil
	}
	return resourcesFor(id.Namespace + "-" + set.Hash), nil
}

func (f *fake) count(id policies.Identity) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[GroupKey(id)]
}

// resourcesFor builds one listener (HCM over RDS), its route and a cluster.
func resourcesFor(tag string) *translate.Resources {
	hcm, err := anypb.New(&hcmv3.HttpConnectionManager{
		StatPrefix: "http",
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			RouteConfigName: "r-" + tag,
			ConfigSource: &corev3.ConfigSource{
				ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
			},
		}},
	})
	if err != nil {
		panic(err)
	}
	return &translate.Resources{
		Listeners: []*listenerv3.Listener{{
			Name: "http.8080",
			FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
				Name:       "envoy.filters.network.http_connection_manager",
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcm},
			}}}},
		}},
		Routes:   []*routev3.RouteConfiguration{{Name: "r-" + tag}},
		Clusters: []*clusterv3.Cluster{{Name: "c-" + tag}},
	}
}

func versionOf(t *testing.T, tag string) string {
	t.Helper()
	v, err := Version(resourcesFor(tag))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func set(hash string) *policies.Set { return &policies.Set{Hash: hash} }

var gatewayID = policies.Identity{Namespace: "istio-system", Labels: map[string]string{"istio": "ingressgateway"}}

func node(t *testing.T, id string, ns string, labels map[string]any) *corev3.Node {
	t.Helper()
	md, err := structpb.NewStruct(map[string]any{"namespace": ns, "labels": labels})
	if err != nil {
		t.Fatal(err)
	}
	return &corev3.Node{Id: id, Cluster: "jwtgate", Metadata: md}
}

func gatewayNode(t *testing.T, id string) *corev3.Node {
	return node(t, id, "istio-system", map[string]any{"istio": "ingressgateway"})
}

// harness is a Server behind a real gRPC server on 127.0.0.1:0 and a
// client connection to it.
type harness struct {
	srv  *Server
	fake *fake
	logs *syncBuffer
	conn *grpc.ClientConn
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{fake: newFake(), logs: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.srv = New(h.fake.translate, logger)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	h.srv.Register(g)
	go g.Serve(lis)
	h.conn, err = grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.conn.Close()
		h.srv.Shutdown()
		g.Stop()
	})
	return h
}

// stream is a raw client stream with its inbox.
type stream[Req, Resp any] struct {
	send func(*Req) error
	*inbox[Resp]
}

// Send sends one request.
func (s *stream[Req, Resp]) Send(r *Req) error { return s.send(r) }

// sotw opens a raw ADS stream; cancel closes it.
func (h *harness) sotw(t *testing.T) (*stream[discoverygrpc.DiscoveryRequest, discoverygrpc.DiscoveryResponse], context.CancelFunc) {
	t.Helper()
	return openStream(t, discoverygrpc.NewAggregatedDiscoveryServiceClient(h.conn).StreamAggregatedResources)
}

// delta opens a raw Delta ADS stream; cancel closes it.
func (h *harness) delta(t *testing.T) (*stream[discoverygrpc.DeltaDiscoveryRequest, discoverygrpc.DeltaDiscoveryResponse], context.CancelFunc) {
	t.Helper()
	return openStream(t, discoverygrpc.NewAggregatedDiscoveryServiceClient(h.conn).DeltaAggregatedResources)
}

// openStream opens a raw stream with open on its own context, closed by
// cancel or at the end of the test.
func openStream[Req, Resp any](t *testing.T, open func(context.Context, ...grpc.CallOption) (grpc.BidiStreamingClient[Req, Resp], error)) (*stream[Req, Resp], context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	return &stream[Req, Resp]{st.Send, newInbox(st)}, cancel
}

// inbox delivers a stream's messages through one reader goroutine, so a
// receive that timed out does not steal a later message.
type inbox[T any] struct {
	ch  chan *T
	err chan error
}

func newInbox[T any](st interface{ Recv() (*T, error) }) *inbox[T] {
	in := &inbox[T]{ch: make(chan *T, 16), err: make(chan error, 1)}
	go func() {
		for {
			m, err := st.Recv()
			if err != nil {
				in.err <- err
				return
			}
			in.ch <- m
		}
	}()
	return in
}

// Recv returns the next message; it only fails once the stream ended.
func (in *inbox[T]) Recv() (*T, error) {
	select {
	case m := <-in.ch:
		return m, nil
	case err := <-in.err:
		return nil, err
	}
}

// recv waits up to d for one message; ok is false on timeout.
func recv[T any](t *testing.T, in *inbox[T], d time.Duration) (*T, bool) {
	t.Helper()
	select {
	case m := <-in.ch:
		return m, true
	case err := <-in.err:
		t.Fatalf("recv: %v", err)
	case <-time.After(d):
	}
	return nil, false
}

// mustRecv waits for one message or fails.
func mustRecv[T any](t *testing.T, st *inbox[T]) *T {
	t.Helper()
	m, ok := recv(t, st, 5*time.Second)
	if !ok {
		t.Fatal("no response within 5s")
	}
	return m
}

// eventually polls cond for up to 5s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logHas reports whether one log line contains every fragment.
func logHas(logs string, fragments ...string) bool {
	return logCount(logs, fragments...) > 0
}

type corev3Node = corev3.Node

func identity(ns string, labels map[string]string) policies.Identity {
	return policies.Identity{Namespace: ns, Labels: labels}
}

// clock is a settable time source for Server.now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeClock makes h.srv use a clock that moves only when told.
func (h *harness) fakeClock() *clock {
	c := &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	h.srv.mu.Lock()
	h.srv.now = c.now
	h.srv.mu.Unlock()
	return c
}

// routeNames are the RDS names the listeners of a listener response use.
func routeNames(t *testing.T, resources []*anypb.Any) []string {
	t.Helper()
	var names []string
	for _, a := range resources {
		var l listenerv3.Listener
		if err := a.UnmarshalTo(&l); err != nil {
			t.Fatal(err)
		}
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				var hcm hcmv3.HttpConnectionManager
				if err := f.GetTypedConfig().UnmarshalTo(&hcm); err != nil {
					t.Fatal(err)
				}
				names = append(names, hcm.GetRds().GetRouteConfigName())
			}
		}
	}
	return names
}

// sotwEnvoy plays a SotW Envoy with our bootstrap on one ADS stream: CDS
// and LDS wildcard, RDS for the route names its listeners use; every
// response is ACKed.
type sotwEnvoy struct {
	st     *stream[discoverygrpc.DiscoveryRequest, discoverygrpc.DiscoveryResponse]
	routes []string
	last   map[string]*discoverygrpc.DiscoveryResponse
}

// newSotwEnvoy opens a stream for node and subscribes to CDS and LDS.
func newSotwEnvoy(t *testing.T, h *harness, n *corev3.Node) (*sotwEnvoy, context.CancelFunc) {
	t.Helper()
	st, cancel := h.sotw(t)
	e := &sotwEnvoy{st: st, last: map[string]*discoverygrpc.DiscoveryResponse{}}
	st.Send(&discoverygrpc.DiscoveryRequest{Node: n, TypeUrl: resource.ClusterType})
	st.Send(&discoverygrpc.DiscoveryRequest{TypeUrl: resource.ListenerType})
	return e, cancel
}

// pump answers responses until none arrives for quiet; it returns how
// many it handled. nack, when set, returns a message for each response to
// reject ("" to ACK it).
func (e *sotwEnvoy) pump(t *testing.T, quiet time.Duration, nack func(*discoverygrpc.DiscoveryResponse) string) int {
	t.Helper()
	n := 0
	for {
		m, ok := recv(t, e.st.inbox, quiet)
		if !ok {
			return n
		}
		n++
		req := &discoverygrpc.DiscoveryRequest{TypeUrl: m.GetTypeUrl(), ResponseNonce: m.GetNonce()}
		if m.GetTypeUrl() == resource.RouteType {
			req.ResourceNames = e.routes
		}
		if nack != nil {
			if msg := nack(m); msg != "" {
				// A NACK names the last accepted version, as Envoy does.
				if prev := e.last[m.GetTypeUrl()]; prev != nil {
					req.VersionInfo = prev.GetVersionInfo()
				}
				req.ErrorDetail = &rpcstatus.Status{Message: msg}
				e.st.Send(req)
				continue
			}
		}
		req.VersionInfo = m.GetVersionInfo()
		e.last[m.GetTypeUrl()] = m
		e.st.Send(req)
		if m.GetTypeUrl() == resource.ListenerType {
			if names := routeNames(t, m.GetResources()); !slices.Equal(names, e.routes) {
				e.routes = names
				r := &discoverygrpc.DiscoveryRequest{TypeUrl: resource.RouteType, ResourceNames: names}
				if prev := e.last[resource.RouteType]; prev != nil {
					r.VersionInfo, r.ResponseNonce = prev.GetVersionInfo(), prev.GetNonce()
				}
				e.st.Send(r)
			}
		}
	}
}

// deltaEnvoy plays a Delta Envoy: CDS and LDS wildcard, RDS subscribed to
// the route names its listeners use; every response is ACKed.
type deltaEnvoy struct {
	st     *stream[discoverygrpc.DeltaDiscoveryRequest, discoverygrpc.DeltaDiscoveryResponse]
	routes []string
}

func newDeltaEnvoy(t *testing.T, h *harness, n *corev3.Node) *deltaEnvoy {
	t.Helper()
	st, _ := h.delta(t)
	st.Send(&discoverygrpc.DeltaDiscoveryRequest{Node: n, TypeUrl: resource.ClusterType})
	st.Send(&discoverygrpc.DeltaDiscoveryRequest{TypeUrl: resource.ListenerType})
	return &deltaEnvoy{st: st}
}

// pump answers responses until none arrives for quiet.
func (e *deltaEnvoy) pump(t *testing.T, quiet time.Duration) int {
	t.Helper()
	n := 0
	for {
		m, ok := recv(t, e.st.inbox, quiet)
		if !ok {
			return n
		}
		n++
		e.st.Send(&discoverygrpc.DeltaDiscoveryRequest{TypeUrl: m.GetTypeUrl(), ResponseNonce: m.GetNonce()})
		if m.GetTypeUrl() != resource.ListenerType {
			continue
		}
		var all []*anypb.Any
		for _, r := range m.GetResources() {
			all = append(all, r.GetResource())
		}
		names := routeNames(t, all)
		var sub, unsub []string
		for _, r := range names {
			if !slices.Contains(e.routes, r) {
				sub = append(sub, r)
			}
		}
		for _, r := range e.routes {
			if !slices.Contains(names, r) {
				unsub = append(unsub, r)
			}
		}
		if len(sub)+len(unsub) > 0 {
			e.routes = names
			e.st.Send(&discoverygrpc.DeltaDiscoveryRequest{TypeUrl: resource.RouteType,
				ResourceNamesSubscribe: sub, ResourceNamesUnsubscribe: unsub})
		}
	}
}

// logCount counts the log lines that contain every fragment.
func logCount(logs string, fragments ...string) int {
	n := 0
	for _, line := range strings.Split(logs, "\n") {
		all := true
		for _, f := range fragments {
			if !strings.Contains(line, f) {
				all = false
				break
			}
		}
		if all {
			n++
		}
	}
	return n
}

// gatewayCDS serves set v1 and opens a raw ADS stream on which gateway
// node gw-1 subscribes to CDS; it returns the harness, the stream and the
// first cluster response (not yet ACKed).
func gatewayCDS(t *testing.T) (*harness, *stream[discoverygrpc.DiscoveryRequest, discoverygrpc.DiscoveryResponse], *discoverygrpc.DiscoveryResponse) {
	t.Helper()
	h := newHarness(t)
	h.srv.Update(set("v1"))
	st, _ := h.sotw(t)
	st.Send(&discoverygrpc.DiscoveryRequest{Node: gatewayNode(t, "gw-1"), TypeUrl: resource.ClusterType})
	return h, st, mustRecv(t, st.inbox)
}
