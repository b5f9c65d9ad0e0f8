package xds

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

const quiet = 300 * time.Millisecond

// envoyClient is a SotW or Delta Envoy for table tests.
type envoyClient interface{ pump(t *testing.T) int }

type sotwPump struct{ *sotwEnvoy }

func (e sotwPump) pump(t *testing.T) int { return e.sotwEnvoy.pump(t, quiet, nil) }

type deltaPump struct{ *deltaEnvoy }

func (e deltaPump) pump(t *testing.T) int { return e.deltaEnvoy.pump(t, quiet) }

func connect(t *testing.T, h *harness, kind, nodeID string) envoyClient {
	t.Helper()
	if kind == "delta" {
		return deltaPump{newDeltaEnvoy(t, h, gatewayNode(t, nodeID))}
	}
	e, _ := newSotwEnvoy(t, h, gatewayNode(t, nodeID))
	return sotwPump{e}
}

// TestEnvoyAppliedOncePerVersionWithTiming: "envoy applied" is logged once
// per node and version, after clusters, listeners and routes are ACKed,
// with the time since the Update (or the connection) that produced it.
func TestEnvoyAppliedOncePerVersionWithTiming(t *testing.T) {
	for _, kind := range []string{"sotw", "delta"} {
		t.Run(kind, func(t *testing.T) {
			h := newHarness(t)
			c := h.fakeClock()
			v1, v2 := versionOf(t, "istio-system-v1"), versionOf(t, "istio-system-v2")
			if err := h.srv.Update(set("v1")); err != nil {
				t.Fatal(err)
			}
			c.advance(time.Second) // before the connection: not counted
			e := connect(t, h, kind, "gw-1")
			eventually(t, "group snapshot", func() bool { return logHas(h.logs.String(), `msg="snapshot updated"`) })
			c.advance(7 * time.Millisecond)
			e.pump(t)
			logs := h.logs.String()
			if n := logCount(logs, `msg="envoy applied"`); n != 1 {
				t.Fatalf("%d 'envoy applied' lines after connecting, want 1:\n%s", n, logs)
			}
			if !logHas(logs, "level=INFO", `msg="envoy applied"`, "node=gw-1", `group="istio-system{istio=ingressgateway}"`,
				"version="+v1, "stream="+kind, "took=7ms") {
				t.Errorf("first 'envoy applied' line wrong:\n%s", logs)
			}

			if err := h.srv.Update(set("v2")); err != nil {
				t.Fatal(err)
			}
			c.advance(12 * time.Millisecond)
			if n := e.pump(t); n < 2 {
				t.Fatalf("%d responses after the update", n)
			}
			logs = h.logs.String()
			if n := logCount(logs, `msg="envoy applied"`, "version="+v2); n != 1 {
				t.Fatalf("%d 'envoy applied' lines for v2, want 1:\n%s", n, logs)
			}
			if !logHas(logs, `msg="envoy applied"`, "node=gw-1", "version="+v2, "took=12ms") {
				t.Errorf("v2 'envoy applied' line wrong:\n%s", logs)
			}
			st := h.srv.Status()
			if got := st.Groups[0].Streams[0].Applied; got != v2 {
				t.Errorf("status applied %q, want %q", got, v2)
			}
		})
	}
}

// TestConnectDisconnectLogs: stream connect and disconnect are Info lines
// with node id, group and stream type.
func TestConnectDisconnectLogs(t *testing.T) {
	for _, kind := range []string{"sotw", "delta"} {
		t.Run(kind, func(t *testing.T) {
			h := newHarness(t)
			h.srv.Update(set("v1"))
			var cancel func()
			if kind == "sotw" {
				st, c := h.sotw(t)
				cancel = c
				st.Send(&discoverygrpc.DiscoveryRequest{Node: gatewayNode(t, "gw-9"), TypeUrl: resource.ClusterType})
				mustRecv(t, st.inbox)
			} else {
				st, c := h.delta(t)
				cancel = c
				st.Send(&discoverygrpc.DeltaDiscoveryRequest{Node: gatewayNode(t, "gw-9"), TypeUrl: resource.ClusterType})
				mustRecv(t, st.inbox)
			}
			group := `group="istio-system{istio=ingressgateway}"`
			if !logHas(h.logs.String(), "level=INFO", `msg="envoy connected"`, "node=gw-9", group, "stream="+kind) {
				t.Errorf("no connect line:\n%s", h.logs)
			}
			cancel()
			eventually(t, "disconnect logged", func() bool {
				return logHas(h.logs.String(), "level=INFO", `msg="envoy disconnected"`, "node=gw-9", group,
					"stream="+kind, "connected_for=")
			})
			eventually(t, "group gone logged", func() bool {
				return logHas(h.logs.String(), "level=INFO", "snapshot cleared", group)
			})
		})
	}
}

// TestUpdateSummary: the summary line counts groups and changed groups;
// "snapshot updated" appears only for groups whose version changed.
func TestUpdateSummary(t *testing.T) {
	h := newHarness(t)
	h.srv.Update(set("v1"))
	if !logHas(h.logs.String(), "level=INFO", `msg="policy set accepted"`, "hash=v1", "groups=0", "changed=0") {
		t.Errorf("no summary without gateways:\n%s", h.logs)
	}
	a, _ := newSotwEnvoy(t, h, gatewayNode(t, "gw-a"))
	b, _ := newSotwEnvoy(t, h, node(t, "gw-b", "default", nil))
	a.pump(t, quiet, nil)
	b.pump(t, quiet, nil)

	h.srv.Update(set("v2"))
	if !logHas(h.logs.String(), `msg="policy set accepted"`, "hash=v2", "groups=2", "changed=2") {
		t.Errorf("summary after a change:\n%s", h.logs)
	}
	updates := logCount(h.logs.String(), `msg="snapshot updated"`)
	if updates != 4 {
		t.Errorf("%d 'snapshot updated' lines, want 4 (2 joins, 2 changes):\n%s", updates, h.logs)
	}
	if !logHas(h.logs.String(), `msg="snapshot updated"`, "group=default{}", "version="+versionOf(t, "default-v2"),
		"previous="+versionOf(t, "default-v1")) {
		t.Errorf("no per-group update line:\n%s", h.logs)
	}

	// A new set that changes nothing for any gateway (the fake's output
	// depends on the hash only, so the same hash again).
	h.srv.Update(set("v2"))
	if !logHas(h.logs.String(), `msg="policy set accepted"`, "hash=v2", "groups=2", "changed=0") {
		t.Errorf("summary without change:\n%s", h.logs)
	}
	if n := logCount(h.logs.String(), `msg="snapshot updated"`); n != updates {
		t.Errorf("'snapshot updated' logged for unchanged groups:\n%s", h.logs)
	}
	if logHas(h.logs.String(), "pushed") {
		t.Errorf("'pushed' still logged:\n%s", h.logs)
	}
}

// TestNoListenersWarning: a group whose snapshot has no listeners (its
// labels match no Gateway) is warned about, once per version.
func TestNoListenersWarning(t *testing.T) {
	h := newHarness(t)
	h.srv.Update(set("nolisteners"))
	e, _ := newSotwEnvoy(t, h, node(t, "gw-x", "istio-system", map[string]any{"istio": "ingress-gateway"}))
	e.pump(t, quiet, nil)
	want := []string{"level=WARN", "gateway group istio-system{istio=ingress-gateway} matches no Gateway",
		"Envoy gets no listeners", "check node.metadata.labels against Gateway spec.selector"}
	if n := logCount(h.logs.String(), want...); n != 1 {
		t.Errorf("%d no-listener warnings, want 1:\n%s", n, h.logs)
	}
	// The empty configuration still counts as applied (LDS ACKed empty).
	if !logHas(h.logs.String(), `msg="envoy applied"`, "node=gw-x") {
		t.Errorf("no 'envoy applied' for an empty listener set:\n%s", h.logs)
	}
	h.srv.Update(set("nolisteners"))
	if n := logCount(h.logs.String(), want...); n != 1 {
		t.Errorf("warning repeated for an unchanged snapshot: %d", n)
	}
	// A group with listeners is not warned about.
	h2 := newHarness(t)
	h2.srv.Update(set("v1"))
	e2, _ := newSotwEnvoy(t, h2, gatewayNode(t, "gw-1"))
	e2.pump(t, quiet, nil)
	if logHas(h2.logs.String(), "matches no Gateway") {
		t.Errorf("warning for a group with listeners:\n%s", h2.logs)
	}
}

// TestStatus: the status lists every group with identity, version,
// resource names, streams with ACKed versions per type, and NACKs; the
// JSON is deterministic.
func TestStatus(t *testing.T) {
	h := newHarness(t)
	c := h.fakeClock()
	t0 := c.now()
	if st := h.srv.Status(); st.Ready || st.PolicySetHash != "" || len(st.Groups) != 0 {
		t.Fatalf("status before any set: %+v", st)
	}
	h.srv.Update(set("v1"))
	v1a, v2a := versionOf(t, "istio-system-v1"), versionOf(t, "istio-system-v2")
	v2b := versionOf(t, "default-v2")

	a, _ := newSotwEnvoy(t, h, gatewayNode(t, "gw-a"))
	b := newDeltaEnvoy(t, h, node(t, "gw-b", "default", map[string]any{"app": "gw"}))
	a.pump(t, quiet, nil)
	b.pump(t, quiet)
	c.advance(time.Second)
	t1 := c.now()
	h.srv.Update(set("v2"))
	c.advance(time.Second)
	t2 := c.now()
	// gw-a rejects the new listeners; gw-b takes everything.
	a.pump(t, quiet, func(m *discoverygrpc.DiscoveryResponse) string {
		if m.GetTypeUrl() == resource.ListenerType && m.GetVersionInfo() == v2a {
			return "bad listener"
		}
		return ""
	})
	b.pump(t, quiet)

	got := h.srv.Status()
	for gi := range got.Groups {
		for si := range got.Groups[gi].Streams {
			if got.Groups[gi].Streams[si].ID <= 0 {
				t.Errorf("stream id %d", got.Groups[gi].Streams[si].ID)
			}
			got.Groups[gi].Streams[si].ID = 0
		}
	}
	nack := &NACKStatus{Node: "gw-a", TypeURL: resource.ListenerType, Version: v2a, Nonce: "", Message: "bad listener", At: t2}
	if len(got.Groups) == 2 && len(got.Groups[1].Streams) == 1 && got.Groups[1].Streams[0].LastNACK != nil {
		nack.Nonce = got.Groups[1].Streams[0].LastNACK.Nonce // the server's counter
	}
	want := Status{
		PolicySetHash: "v2",
		Ready:         true,
		Groups: []GroupStatus{{
			Key:       "default{app=gw}",
			Identity:  IdentityStatus{Namespace: "default", Labels: map[string]string{"app": "gw"}},
			Version:   v2b,
			VersionAt: &t1,
			Resources: map[string][]string{
				resource.ClusterType:  {"c-default-v2"},
				resource.RouteType:    {"r-default-v2"},
				resource.ListenerType: {"http.8080"},
			},
			Streams: []StreamStatus{{
				Node: "gw-b", Kind: "delta", ConnectedAt: t0,
				Acked: map[string]AckStatus{
					resource.ClusterType:  {Version: v2b, At: t2},
					resource.ListenerType: {Version: v2b, At: t2},
					resource.RouteType:    {Version: v2b, At: t2},
				},
				Applied: v2b,
			}},
		}, {
			Key:       "istio-system{istio=ingressgateway}",
			Identity:  IdentityStatus{Namespace: "istio-system", Labels: map[string]string{"istio": "ingressgateway"}},
			Version:   v2a,
			VersionAt: &t1,
			Resources: map[string][]string{
				resource.ClusterType:  {"c-istio-system-v2"},
				resource.RouteType:    {"r-istio-system-v2"},
				resource.ListenerType: {"http.8080"},
			},
			Streams: []StreamStatus{{
				Node: "gw-a", Kind: "sotw", ConnectedAt: t0,
				Acked: map[string]AckStatus{
					resource.ClusterType:  {Version: v2a, At: t2},
					resource.ListenerType: {Version: v1a, At: t0},
					// It still asks for the v1 route name, which v2 lacks:
					// the ADS cache does not answer that.
					resource.RouteType: {Version: v1a, At: t0},
				},
				Applied:  v1a,
				LastNACK: nack,
			}},
			LastNACK: nack,
		}},
	}
	if nack.Nonce == "" {
		t.Errorf("NACK without nonce")
	}
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", "  ")
		wj, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("status:\n%s\nwant:\n%s", gj, wj)
	}

	// The handler serves the same as JSON, byte-identical on every call.
	body := func(method string) (int, string, http.Header) {
		rec := httptest.NewRecorder()
		h.srv.StatusHandler().ServeHTTP(rec, httptest.NewRequest(method, "/debug/status", nil))
		return rec.Code, rec.Body.String(), rec.Header()
	}
	code, first, hdr := body(http.MethodGet)
	if code != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("GET: %d %s", code, hdr.Get("Content-Type"))
	}
	if _, second, _ := body(http.MethodGet); second != first {
		t.Errorf("two GETs differ:\n%s\n%s", first, second)
	}
	var decoded Status
	if err := json.Unmarshal([]byte(first), &decoded); err != nil {
		t.Fatal(err)
	}
	if decoded.PolicySetHash != "v2" || len(decoded.Groups) != 2 || decoded.Groups[1].LastNACK.Message != "bad listener" {
		t.Errorf("decoded status %+v", decoded)
	}
	for _, frag := range []string{`"policySetHash": "v2"`, `"key": "default{app=gw}"`, `"kind": "sotw"`,
		`"applied": "` + v1a + `"`, `"typeUrl": "` + resource.ListenerType + `"`, `"message": "bad listener"`} {
		if !strings.Contains(first, frag) {
			t.Errorf("JSON lacks %s:\n%s", frag, first)
		}
	}
	if code, _, hdr := body(http.MethodPost); code != http.StatusMethodNotAllowed || hdr.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d allow=%q", code, hdr.Get("Allow"))
	}
}
