package xds

import (
	"context"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"

	"github.com/jwtgate/jwtgate/policies"
)

// streamState is what the callbacks know about one open stream. It is
// guarded by Server.mu.
type streamState struct {
	id          int64
	delta       bool
	joined      bool
	nodeID      string
	group       string
	identity    policies.Identity
	connectedAt time.Time
	// sent is the last response per type URL: its nonce and version.
	sent map[string]sent
	// acked is the last ACK per type URL.
	acked map[string]ack
	// applied is the last version logged as "envoy applied".
	applied  string
	lastNACK *NACKStatus
}

type sent struct{ nonce, version string }

// streamKey identifies an open stream. go-control-plane numbers SotW and
// Delta streams with separate counters, so an id alone is ambiguous.
type streamKey struct {
	delta bool
	id    int64
}

type ack struct {
	nonce, version string
	at             time.Time
}

// kind names the stream's protocol variant for logs and status.
func (st *streamState) kind() string {
	if st.delta {
		return "delta"
	}
	return "sotw"
}

// callbacks implements go-control-plane's server callbacks: stream
// accounting, group membership, and ACK/NACK detection.
type callbacks struct {
	s *Server
}

func (c *callbacks) open(id int64, delta bool, typeURL string) {
	s := c.s
	s.mu.Lock()
	s.streams[streamKey{delta, id}] = &streamState{id: id, delta: delta, connectedAt: s.now(),
		sent: map[string]sent{}, acked: map[string]ack{}}
	s.mu.Unlock()
	s.metrics.streams.Add(1)
	s.log.Debug("xds stream opened", "stream_id", id, "delta", delta, "type", typeURL)
}

func (c *callbacks) closed(id int64, delta bool) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.streams[streamKey{delta, id}]
	delete(s.streams, streamKey{delta, id})
	s.metrics.streams.Add(-1)
	if st == nil || !st.joined {
		s.log.Debug("xds stream closed before its first request", "stream_id", id)
		return
	}
	s.log.Info("envoy disconnected", "node", st.nodeID, "group", st.group, "stream", st.kind(),
		"stream_id", id, "connected_for", s.now().Sub(st.connectedAt).Round(time.Millisecond))
	s.leave(st)
}

// request records the node on a stream's first request (joining its
// group) and classifies the request as ACK, NACK or new subscription.
// version is the SotW version_info ("" for Delta, which has none). For a
// NACK it returns the rejected version ("" when unknown).
func (c *callbacks) request(id int64, delta bool, node *corev3.Node, typeURL, nonce, version string, errDetail *rpcstatus.Status) (rejected string) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.streams[streamKey{delta, id}]
	if st == nil {
		return ""
	}
	if !st.joined {
		st.joined = true
		st.nodeID = node.GetId()
		st.identity = NodeIdentity(node)
		st.group = GroupKey(st.identity)
		s.log.Info("envoy connected", "node", st.nodeID, "group", st.group, "stream", st.kind(),
			"stream_id", id)
		s.join(st)
	}
	last := st.sent[typeURL]

	log := s.log.With("node", st.nodeID, "group", st.group, "type", typeURL)
	switch {
	case errDetail != nil:
		s.metrics.nacks.Add(1)
		if nonce == last.nonce {
			rejected = last.version
		}
		n := &NACKStatus{Node: st.nodeID, TypeURL: typeURL, Version: rejected, Nonce: nonce,
			Message: errDetail.GetMessage(), At: s.now()}
		st.lastNACK = n
		if g := s.groups[st.group]; g != nil {
			g.lastNACK = n
		}
		log.Error("envoy rejected configuration (NACK)",
			"rejected_version", rejected, "nonce", nonce, "stream_id", id,
			"error", errDetail.GetMessage())
	case nonce != "" && nonce == last.nonce && (st.delta || version == last.version):
		s.metrics.acks.Add(1)
		st.acked[typeURL] = ack{nonce: nonce, version: last.version, at: s.now()}
		log.Debug("xds ACK", "version", last.version, "stream_id", id)
		s.checkApplied(st, last.version)
	}
	return rejected
}

// appliedTypes are the types an Envoy with our bootstrap (CDS and LDS over
// ADS, RDS named by the listeners) has to ACK before a version is in force
// on it: clusters and listeners always, routes when the snapshot has any
// (Envoy subscribes to routes only through a listener).
func appliedTypes(snap *cachev3.Snapshot) []string {
	types := []string{resource.ClusterType, resource.ListenerType}
	if len(snap.GetResources(resource.RouteType)) > 0 {
		types = append(types, resource.RouteType)
	}
	return types
}

// checkApplied logs "envoy applied" once per stream and version, when the
// stream has ACKed its group's current version for every type in
// appliedTypes. SotW resends every type at each version, so each of them
// must be ACKed at that version. Delta sends only the types whose
// resources changed, so each type must have been ACKed at least once and
// have no response in flight. took runs from the Update that produced the
// version (or from the connection, when that is later) to this ACK.
// The caller holds s.mu.
func (s *Server) checkApplied(st *streamState, version string) {
	g := s.groups[st.group]
	if g == nil || g.snap == nil || version != g.version || st.applied == version {
		return
	}
	for _, t := range appliedTypes(g.snap) {
		a, ok := st.acked[t]
		if !ok {
			return
		}
		if st.delta && a.nonce != st.sent[t].nonce {
			return
		}
		if !st.delta && a.version != version {
			return
		}
	}
	st.applied = version
	now := s.now()
	from := st.connectedAt
	if at, ok := g.producedAt(version); ok && at.After(from) {
		from = at
	}
	s.log.Info("envoy applied", "node", st.nodeID, "group", st.group, "version", version,
		"stream", st.kind(), "stream_id", st.id, "took", now.Sub(from).Round(time.Millisecond))
}

func (c *callbacks) response(id int64, delta bool, typeURL, nonce, version string) {
	s := c.s
	s.mu.Lock()
	if st := s.streams[streamKey{delta, id}]; st != nil {
		st.sent[typeURL] = sent{nonce: nonce, version: version}
	}
	s.mu.Unlock()
	s.log.Debug("xds response sent", "stream_id", id, "type", typeURL, "version", version, "nonce", nonce)
}

// OnStreamOpen is called when a SotW stream opens.
func (c *callbacks) OnStreamOpen(_ context.Context, id int64, typeURL string) error {
	c.open(id, false, typeURL)
	return nil
}

// OnStreamClosed is called when a SotW stream closes.
func (c *callbacks) OnStreamClosed(id int64, _ *corev3.Node) { c.closed(id, false) }

// OnStreamRequest is called for every SotW request, before its watch.
// A NACK names the last accepted version, so the cache would resend the
// rejected snapshot at once, and Envoy would reject it again, in a loop.
// Marking the request as being at the rejected version makes the watch wait
// for the next snapshot instead. (Delta tracks sent resource versions
// itself and needs no help.)
func (c *callbacks) OnStreamRequest(id int64, req *discoverygrpc.DiscoveryRequest) error {
	rejected := c.request(id, false, req.GetNode(), req.GetTypeUrl(), req.GetResponseNonce(), req.GetVersionInfo(),
		req.GetErrorDetail())
	if rejected != "" {
		req.VersionInfo = rejected
	}
	return nil
}

// OnStreamResponse is called before a SotW response is sent.
func (c *callbacks) OnStreamResponse(_ context.Context, id int64, _ *discoverygrpc.DiscoveryRequest, resp *discoverygrpc.DiscoveryResponse) {
	c.response(id, false, resp.GetTypeUrl(), resp.GetNonce(), resp.GetVersionInfo())
}

// OnDeltaStreamOpen is called when a Delta stream opens.
func (c *callbacks) OnDeltaStreamOpen(_ context.Context, id int64, typeURL string) error {
	c.open(id, true, typeURL)
	return nil
}

// OnDeltaStreamClosed is called when a Delta stream closes.
func (c *callbacks) OnDeltaStreamClosed(id int64, _ *corev3.Node) { c.closed(id, true) }

// OnStreamDeltaRequest is called for every Delta request, before its watch.
func (c *callbacks) OnStreamDeltaRequest(id int64, req *discoverygrpc.DeltaDiscoveryRequest) error {
	c.request(id, true, req.GetNode(), req.GetTypeUrl(), req.GetResponseNonce(), "",
		req.GetErrorDetail())
	return nil
}

// OnStreamDeltaResponse is called before a Delta response is sent.
func (c *callbacks) OnStreamDeltaResponse(id int64, _ *discoverygrpc.DeltaDiscoveryRequest, resp *discoverygrpc.DeltaDiscoveryResponse) {
	c.response(id, true, resp.GetTypeUrl(), resp.GetNonce(), resp.GetSystemVersionInfo())
}

// OnFetchRequest is called for REST requests, which jwtgate does not serve.
func (c *callbacks) OnFetchRequest(context.Context, *discoverygrpc.DiscoveryRequest) error {
	return nil
}

// OnFetchResponse is called for REST responses.
func (c *callbacks) OnFetchResponse(*discoverygrpc.DiscoveryRequest, *discoverygrpc.DiscoveryResponse) {
}
