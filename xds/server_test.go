package xds

import (
	"context"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	adsclient "github.com/envoyproxy/go-control-plane/pkg/client/sotw/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

func clusterNames(t *testing.T, r *adsclient.Response) []string {
	t.Helper()
	var names []string
	for _, a := range r.Resources {
		var c clusterv3.Cluster
		if err := a.UnmarshalTo(&c); err != nil {
			t.Fatal(err)
		}
		names = append(names, c.GetName())
	}
	return names
}

// fetch runs client.Fetch with a deadline.
func fetch(t *testing.T, c adsclient.ADSClient) *adsclient.Response {
	t.Helper()
	ch := make(chan *adsclient.Response, 1)
	go func() {
		r, err := c.Fetch()
		if err != nil {
			t.Error(err)
		}
		ch <- r
	}()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no response within 5s")
		return nil
	}
}

func TestAckUpdateNackWithADSClient(t *testing.T) {
	h := newHarness(t)
	if err := h.srv.Update(set("v1")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := adsclient.NewADSClient(ctx, gatewayNode(t, "gw-1"), resource.ClusterType)
	if err := c.InitConnect(h.conn); err != nil {
		t.Fatal(err)
	}

	if got := clusterNames(t, fetch(t, c)); len(got) != 1 || got[0] != "c-istio-system-v1" {
		t.Fatalf("clusters = %v", got)
	}
	if err := c.Ack(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ACK counted", func() bool { return h.srv.Metrics().ACKs() == 1 })
	if !logHas(h.logs.String(), "level=DEBUG", `msg="xds ACK"`, "node=gw-1",
		"type="+resource.ClusterType, "version="+versionOf(t, "istio-system-v1")) {
		t.Errorf("no 'xds ACK' log line:\n%s", h.logs)
	}
	// Only clusters are ACKed: Envoy has not applied the version yet.
	if logHas(h.logs.String(), `msg="envoy applied"`) {
		t.Errorf("'envoy applied' before listeners and routes were ACKed:\n%s", h.logs)
	}

	// A new set is pushed to the connected client.
	if err := h.srv.Update(set("v2")); err != nil {
		t.Fatal(err)
	}
	if got := clusterNames(t, fetch(t, c)); len(got) != 1 || got[0] != "c-istio-system-v2" {
		t.Fatalf("after update clusters = %v", got)
	}

	// Envoy rejects it.
	if err := c.Nack("cluster c-istio-system-v2: bad config"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "NACK counted", func() bool { return h.srv.Metrics().NACKs() == 1 })
	if !logHas(h.logs.String(), "level=ERROR", "NACK", "node=gw-1", "type="+resource.ClusterType,
		"rejected_version="+versionOf(t, "istio-system-v2"), "nonce=2", "bad config") {
		t.Errorf("no NACK log line:\n%s", h.logs)
	}
	if h.srv.Metrics().ACKs() != 1 {
		t.Errorf("a NACK was counted as ACK: acks=%d", h.srv.Metrics().ACKs())
	}
}

func TestNackIsNotResentInALoop(t *testing.T) {
	h, st, first := gatewayCDS(t)
	st.Send(&discoverygrpc.DiscoveryRequest{TypeUrl: resource.ClusterType, ResponseNonce: first.GetNonce(),
		ErrorDetail: &rpcstatus.Status{Message: "rejected"}})
	if m, ok := recv(t, st.inbox, 300*time.Millisecond); ok {
		t.Fatalf("rejected version resent: %v", m.GetVersionInfo())
	}
	// The next real change still arrives.
	h.srv.Update(set("v2"))
	if m := mustRecv(t, st.inbox); m.GetVersionInfo() != versionOf(t, "istio-system-v2") {
		t.Fatalf("version %s after NACK and update", m.GetVersionInfo())
	}
}

func TestReconnectGetsCurrentVersion(t *testing.T) {
	h := newHarness(t)
	h.srv.Update(set("v1"))
	v1, v2 := versionOf(t, "istio-system-v1"), versionOf(t, "istio-system-v2")

	st, cancel := h.sotw(t)
	st.Send(&discoverygrpc.DiscoveryRequest{Node: gatewayNode(t, "gw-1"), TypeUrl: resource.ClusterType})
	if m := mustRecv(t, st.inbox); m.GetVersionInfo() != v1 {
		t.Fatalf("first version %s, want %s", m.GetVersionInfo(), v1)
	}
	cancel()
	eventually(t, "stream closed", func() bool { return h.srv.Metrics().Streams() == 0 })

	h.srv.Update(set("v2"))
	st2, _ := h.sotw(t)
	st2.Send(&discoverygrpc.DiscoveryRequest{Node: gatewayNode(t, "gw-1"), TypeUrl: resource.ClusterType, VersionInfo: v1})
	if m := mustRecv(t, st2.inbox); m.GetVersionInfo() != v2 {
		t.Fatalf("reconnect got %s, want %s", m.GetVersionInfo(), v2)
	}

	// A second stream (another replica, or this one after a restart) serves
	// the very same version for the same content.
	st3, _ := h.sotw(t)
	st3.Send(&discoverygrpc.DiscoveryRequest{Node: gatewayNode(t, "gw-2"), TypeUrl: resource.ClusterType, VersionInfo: v2})
	if m := mustRecv(t, st3.inbox); m.GetVersionInfo() != v2 {
		t.Fatalf("second stream got %s, want %s", m.GetVersionInfo(), v2)
	}
}

func TestEqualIdentitiesShareOneSnapshot(t *testing.T) {
	h := newHarness(t)
	h.srv.Update(set("v1"))
	a, _ := h.sotw(t)
	b, _ := h.sotw(t)
	a.Send(&discoverygrpc.DiscoveryRequest{Node: gatewayNode(t, "gw-a"), TypeUrl: resource.ClusterType})
	b.Send(&discoverygrpc.DiscoveryRequest{Node: gatewayNode(t, "gw-b"), TypeUrl: resource.ClusterType})
	ma, mb := mustRecv(t, a.inbox), mustRecv(t, b.inbox)
	if ma.GetVersionInfo() != mb.GetVersionInfo() || ma.GetVersionInfo() == "" {
		t.Fatalf("versions differ: %s vs %s", ma.GetVersionInfo(), mb.GetVersionInfo())
	}
	if n := h.fake.count(gatewayID); n != 1 {
		t.Errorf("translated %d times for one identity, want 1", n)
	}
	if keys := h.srv.cache.GetStatusKeys(); len(keys) != 1 {
		t.Errorf("cache keys = %v, want one", keys)
	}

	// Another identity is another group with its own resources.
	other := node(t, "gw-c", "default", map[string]any{"istio": "ingressgateway"})
	c, _ := h.sotw(t)
	c.Send(&discoverygrpc.DiscoveryRequest{Node: other, TypeUrl: resource.ClusterType})
	if m := mustRecv(t, c.inbox); m.GetVersionInfo() != versionOf(t, "default-v1") {
		t.Fatalf("other group version %s", m.GetVersionInfo())
	}
	if keys := h.srv.cache.GetStatusKeys(); len(keys) != 2 {
		t.Errorf("cache keys = %v, want two", keys)
	}
}

func TestDeltaStream(t *testing.T) {
	h := newHarness(t)
	h.srv.Update(set("v1"))
	st, _ := h.delta(t)
	st.Send(&discoverygrpc.DeltaDiscoveryRequest{Node: gatewayNode(t, "gw-d"), TypeUrl: resource.ClusterType})
	m := mustRecv(t, st.inbox)
	if len(m.GetResources()) != 1 || m.GetResources()[0].GetName() != "c-istio-system-v1" {
		t.Fatalf("delta resources %v", m.GetResources())
	}
	if m.GetSystemVersionInfo() != versionOf(t, "istio-system-v1") {
		t.Errorf("system version %s", m.GetSystemVersionInfo())
	}
	st.Send(&discoverygrpc.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResponseNonce: m.GetNonce()})
	eventually(t, "delta ACK", func() bool { return h.srv.Metrics().ACKs() == 1 })
	if !logHas(h.logs.String(), `msg="xds ACK"`, "node=gw-d", "version="+versionOf(t, "istio-system-v1")) {
		t.Errorf("no delta 'xds ACK' line:\n%s", h.logs)
	}

	h.srv.Update(set("v2"))
	m = mustRecv(t, st.inbox)
	if len(m.GetResources()) != 1 || m.GetResources()[0].GetName() != "c-istio-system-v2" ||
		len(m.GetRemovedResources()) != 1 || m.GetRemovedResources()[0] != "c-istio-system-v1" {
		t.Fatalf("delta update: resources %v removed %v", m.GetResources(), m.GetRemovedResources())
	}
	st.Send(&discoverygrpc.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResponseNonce: m.GetNonce(),
		ErrorDetail: &rpcstatus.Status{Message: "nope"}})
	eventually(t, "delta NACK", func() bool { return h.srv.Metrics().NACKs() == 1 })
	if !logHas(h.logs.String(), "level=ERROR", "node=gw-d", "rejected_version="+versionOf(t, "istio-system-v2"), "error=nope") {
		t.Errorf("no delta NACK line:\n%s", h.logs)
	}
}

func TestFailedUpdateKeepsEveryOldSnapshot(t *testing.T) {
	h := newHarness(t)
	h.srv.Update(set("v1"))
	a, _ := h.sotw(t)
	b, _ := h.sotw(t)
	a.Send(&discoverygrpc.DiscoveryRequest{Node: gatewayNode(t, "gw-a"), TypeUrl: resource.ClusterType})
	b.Send(&discoverygrpc.DiscoveryRequest{Node: node(t, "gw-b", "default", nil), TypeUrl: resource.ClusterType})
	ma, mb := mustRecv(t, a.inbox), mustRecv(t, b.inbox)
	a.Send(&discoverygrpc.DiscoveryRequest{TypeUrl: resource.ClusterType, VersionInfo: ma.GetVersionInfo(), ResponseNonce: ma.GetNonce()})
	b.Send(&discoverygrpc.DiscoveryRequest{TypeUrl: resource.ClusterType, VersionInfo: mb.GetVersionInfo(), ResponseNonce: mb.GetNonce()})
	eventually(t, "both ACKed", func() bool { return h.srv.Metrics().ACKs() == 2 })

	// Translation fails for one group only: neither group changes.
	h.fake.fail["bad"] = "default"
	if err := h.srv.Update(set("bad")); err == nil || !strings.Contains(err.Error(), "on purpose") {
		t.Fatalf("Update error = %v", err)
	}
	// An inconsistent snapshot is refused the same way.
	if err := h.srv.Update(set("inconsistent")); err == nil || !strings.Contains(err.Error(), "inconsistent") {
		t.Fatalf("Update error = %v", err)
	}
	if m, ok := recv(t, a.inbox, 300*time.Millisecond); ok {
		t.Fatalf("group a got a push after a failed update: %s", m.GetVersionInfo())
	}
	if m, ok := recv(t, b.inbox, 50*time.Millisecond); ok {
		t.Fatalf("group b got a push after a failed update: %s", m.GetVersionInfo())
	}
	if v := h.srv.GroupVersion(gatewayID); v != ma.GetVersionInfo() {
		t.Errorf("group version %s, want old %s", v, ma.GetVersionInfo())
	}
	if ok, failed := h.srv.Metrics().Reloads(); ok != 1 || failed != 2 {
		t.Errorf("reloads ok=%d error=%d, want 1 and 2", ok, failed)
	}
	if h.srv.Metrics().SnapshotUpdates() != 2 {
		t.Errorf("snapshot updates %d, want 2", h.srv.Metrics().SnapshotUpdates())
	}

	// A new group joining now gets the last good set, not the failed one.
	c, _ := h.sotw(t)
	c.Send(&discoverygrpc.DiscoveryRequest{Node: node(t, "gw-c", "other", nil), TypeUrl: resource.ClusterType})
	if m := mustRecv(t, c.inbox); m.GetVersionInfo() != versionOf(t, "other-v1") {
		t.Errorf("new group got %s", m.GetVersionInfo())
	}

	// The next good set reaches both groups.
	h.srv.Update(set("v2"))
	if m := mustRecv(t, a.inbox); m.GetVersionInfo() != versionOf(t, "istio-system-v2") {
		t.Errorf("group a got %s", m.GetVersionInfo())
	}
	if m := mustRecv(t, b.inbox); m.GetVersionInfo() != versionOf(t, "default-v2") {
		t.Errorf("group b got %s", m.GetVersionInfo())
	}
}

func TestGroupBeforeFirstSetAndClearOnLastClose(t *testing.T) {
	h := newHarness(t)
	st, cancel := h.sotw(t)
	st.Send(&discoverygrpc.DiscoveryRequest{Node: gatewayNode(t, "gw-1"), TypeUrl: resource.ClusterType})
	if _, ok := recv(t, st.inbox, 200*time.Millisecond); ok {
		t.Fatal("response before any policy set")
	}
	h.srv.Update(set("v1"))
	if m := mustRecv(t, st.inbox); m.GetVersionInfo() != versionOf(t, "istio-system-v1") {
		t.Fatalf("got %s", m.GetVersionInfo())
	}
	key := GroupKey(gatewayID)
	if _, err := h.srv.cache.GetSnapshot(key); err != nil {
		t.Fatal(err)
	}
	cancel()
	eventually(t, "snapshot cleared", func() bool {
		_, err := h.srv.cache.GetSnapshot(key)
		return err != nil && h.srv.GroupVersion(gatewayID) == "" && h.srv.Metrics().Streams() == 0
	})
}

func TestOrderedADSMultipleTypes(t *testing.T) {
	_, st, c := gatewayCDS(t)
	st.Send(&discoverygrpc.DiscoveryRequest{TypeUrl: resource.ClusterType, VersionInfo: c.GetVersionInfo(), ResponseNonce: c.GetNonce()})
	st.Send(&discoverygrpc.DiscoveryRequest{TypeUrl: resource.ListenerType})
	l := mustRecv(t, st.inbox)
	if l.GetTypeUrl() != resource.ListenerType || len(l.GetResources()) != 1 {
		t.Fatalf("listener response %v", l)
	}
	st.Send(&discoverygrpc.DiscoveryRequest{TypeUrl: resource.ListenerType, VersionInfo: l.GetVersionInfo(), ResponseNonce: l.GetNonce()})
	st.Send(&discoverygrpc.DiscoveryRequest{TypeUrl: resource.RouteType, ResourceNames: []string{"r-istio-system-v1"}})
	r := mustRecv(t, st.inbox)
	if r.GetTypeUrl() != resource.RouteType || len(r.GetResources()) != 1 {
		t.Fatalf("route response %v", r)
	}
	if c.GetVersionInfo() != l.GetVersionInfo() || l.GetVersionInfo() != r.GetVersionInfo() {
		t.Errorf("one snapshot, several versions: %s %s %s", c.GetVersionInfo(), l.GetVersionInfo(), r.GetVersionInfo())
	}
}

func TestReadyAndMetrics(t *testing.T) {
	h := newHarness(t)
	var b strings.Builder
	h.srv.Metrics().WriteTo(&b)
	if h.srv.Ready() || !strings.Contains(b.String(), "\njwtgate_ready 0\n") {
		t.Fatalf("ready before any set:\n%s", b.String())
	}
	if strings.Contains(b.String(), "jwtgate_policy_set_info{") {
		t.Error("set info before any set")
	}
	// Pushed means accepted by Update, even with no Envoy connected.
	if err := h.srv.Update(set(`abc"1`)); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Update(nil); err == nil {
		t.Error("nil set accepted")
	}
	h.srv.ReportLoadError(nil)
	b.Reset()
	h.srv.Metrics().WriteTo(&b)
	for _, want := range []string{
		"# TYPE jwtgate_xds_nacks_total counter\njwtgate_xds_nacks_total 0\n",
		"# TYPE jwtgate_xds_streams gauge\njwtgate_xds_streams 0\n",
		"jwtgate_snapshot_updates_total 0\n",
		`jwtgate_policy_reloads_total{result="error"} 2` + "\n",
		`jwtgate_policy_reloads_total{result="ok"} 1` + "\n",
		`jwtgate_policy_set_info{hash="abc\"1"} 1` + "\n",
		"\njwtgate_ready 1\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, b.String())
		}
	}
	if !h.srv.Ready() {
		t.Error("not ready after Update")
	}
}

func TestNodeIdentity(t *testing.T) {
	id := NodeIdentity(gatewayNode(t, "x"))
	if id.Namespace != "istio-system" || id.Labels["istio"] != "ingressgateway" || len(id.Labels) != 1 {
		t.Fatalf("identity %+v", id)
	}
	def := NodeIdentity(nil)
	if def.Namespace != "istio-system" || len(def.Labels) != 0 {
		t.Fatalf("default identity %+v", def)
	}
	md, _ := structpb.NewStruct(map[string]any{"labels": map[string]any{"a": "1", "n": 2.0}})
	if id := NodeIdentity(&corev3Node{Metadata: md}); id.Namespace != "istio-system" || len(id.Labels) != 1 {
		t.Fatalf("non-string label kept: %+v", id)
	}
}

func TestGroupKey(t *testing.T) {
	k := func(ns string, labels map[string]string) string {
		return GroupKey(identity(ns, labels))
	}
	if k("ns", map[string]string{"a": "1", "b": "2"}) != k("ns", map[string]string{"b": "2", "a": "1"}) {
		t.Error("key depends on label order")
	}
	distinct := []string{
		k("ns", nil),
		k("ns2", nil),
		k("ns", map[string]string{"a": "1"}),
		k("ns", map[string]string{"a": "1,b=2"}),
		k("ns", map[string]string{"a": "1", "b": "2"}),
		k(`ns{"a"="1"}`, nil),
	}
	if got := k("istio-system", map[string]string{"istio": "ingressgateway", "app": "gw"}); got != "istio-system{app=gw,istio=ingressgateway}" {
		t.Errorf("key %s", got)
	}
	seen := map[string]bool{}
	for _, d := range distinct {
		if seen[d] {
			t.Errorf("collision: %s", d)
		}
		seen[d] = true
	}
}

func TestVersion(t *testing.T) {
	v1a, v1b, v2 := versionOf(t, "a"), versionOf(t, "a"), versionOf(t, "b")
	if v1a != v1b || v1a == v2 || len(v1a) != 16 {
		t.Fatalf("versions %s %s %s", v1a, v1b, v2)
	}
	// Moving a resource to another type changes the version.
	r := resourcesFor("a")
	r.Clusters = append(r.Clusters, &clusterv3.Cluster{Name: "extra"})
	if v, _ := Version(r); v == v1a {
		t.Error("extra cluster did not change the version")
	}
}
