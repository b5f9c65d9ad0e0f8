package xds

import (
	"context"
	"sync"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"

	"github.com/jwtgate/jwtgate/policies"
)

// streamState is what the callbacks know about one open stream.
type streamState struct {
	delta    bool
	joined   bool
	nodeID   string
	group    string
	identity policies.Identity
	// sent is the last response per type URL: its nonce and version.
	sent map[string]sent
}

type sent struct{ nonce, version string }

// callbacks implements go-control-plane's server callbacks: stream
// accounting, group membership, and ACK/NACK detection.
type callbacks struct {
	s  *Server
	mu sync.Mutex // guards stream states (s.streams)
}

func (c *callbacks) open(id int64, delta bool, typeURL string) {
	c.mu.Lock()
	c.s.streams[id] = &streamState{delta: delta, sent: map[string]sent{}}
	c.mu.Unlock()
	c.s.metrics.streams.Add(1)
	c.s.log.Debug("xds stream opened", "stream", id, "delta", delta, "type", typeURL)
}

func (c *callbacks) closed(id int64) {
	c.mu.Lock()
	st := c.s.streams[id]
	delete(c.s.streams, id)
	c.mu.Unlock()
	c.s.metrics.streams.Add(-1)
	if st == nil {
		return
	}
	c.s.log.Debug("xds stream closed", "stream", id, "node", st.nodeID, "group", st.group)
	if st.joined {
		c.s.leave(st)
	}
}

// request records the node on a stream's first request (joining its
// group) and classifies the request as ACK, NACK or new subscription.
// version is the SotW version_info ("" for Delta, which has none). For a
// NACK it returns the rejected version ("" when unknown).
func (c *callbacks) request(id int64, node *corev3.Node, typeURL, nonce, version string, errDetail *rpcstatus.Status) (rejected string) {
	c.mu.Lock()
	st := c.s.streams[id]
	if st == nil {
		c.mu.Unlock()
		return ""
	}
	first := !st.joined
	if first {
		st.joined = true
		st.nodeID = node.GetId()
		st.identity = NodeIdentity(node)
		st.group = GroupKey(st.identity)
	}
	last := st.sent[typeURL]
	c.mu.Unlock()
	if first {
		c.s.join(st)
	}

	log := c.s.log.With("node", st.nodeID, "group", st.group, "type", typeURL)
	switch {
	case errDetail != nil:
		c.s.metrics.nacks.Add(1)
		if nonce == last.nonce {
			rejected = last.version
		}
		log.Error("envoy rejected configuration (NACK)",
			"rejected_version", rejected, "nonce", nonce, "stream", id,
			"error", errDetail.GetMessage())
	case nonce != "" && nonce == last.nonce && (st.delta || version == last.version):
		c.s.metrics.acks.Add(1)
		log.Info("envoy applied", "version", last.version, "stream", id)
	}
	return rejected
}

func (c *callbacks) response(id int64, typeURL, nonce, version string) {
	c.mu.Lock()
	if st := c.s.streams[id]; st != nil {
		st.sent[typeURL] = sent{nonce: nonce, version: version}
	}
	c.mu.Unlock()
	c.s.log.Debug("xds response sent", "stream", id, "type", typeURL, "version", version, "nonce", nonce)
}

// OnStreamOpen is called when a SotW stream opens.
func (c *callbacks) OnStreamOpen(_ context.Context, id int64, typeURL string) error {
	c.open(id, false, typeURL)
	return nil
}

// OnStreamClosed is called when a SotW stream closes.
func (c *callbacks) OnStreamClosed(id int64, _ *corev3.Node) { c.closed(id) }

// OnStreamRequest is called for every SotW request, before its watch.
// A NACK names the last accepted version, so the cache would resend the
// rejected snapshot at once, and Envoy would reject it again, in a loop.
// Marking the request as being at the rejected version makes the watch wait
// for the next snapshot instead. (Delta tracks sent resource versions
// itself and needs no help.)
func (c *callbacks) OnStreamRequest(id int64, req *discoverygrpc.DiscoveryRequest) error {
	rejected := c.request(id, req.GetNode(), req.GetTypeUrl(), req.GetResponseNonce(), req.GetVersionInfo(),
		req.GetErrorDetail())
	if rejected != "" {
		req.VersionInfo = rejected
	}
	return nil
}

// OnStreamResponse is called before a SotW response is sent.
func (c *callbacks) OnStreamResponse(_ context.Context, id int64, _ *discoverygrpc.DiscoveryRequest, resp *discoverygrpc.DiscoveryResponse) {
	c.response(id, resp.GetTypeUrl(), resp.GetNonce(), resp.GetVersionInfo())
}

// OnDeltaStreamOpen is called when a Delta stream opens.
func (c *callbacks) OnDeltaStreamOpen(_ context.Context, id int64, typeURL string) error {
	c.open(id, true, typeURL)
	return nil
}

// OnDeltaStreamClosed is called when a Delta stream closes.
func (c *callbacks) OnDeltaStreamClosed(id int64, _ *corev3.Node) { c.closed(id) }

// OnStreamDeltaRequest is called for every Delta request, before its watch.
func (c *callbacks) OnStreamDeltaRequest(id int64, req *discoverygrpc.DeltaDiscoveryRequest) error {
	c.request(id, req.GetNode(), req.GetTypeUrl(), req.GetResponseNonce(), "",
		req.GetErrorDetail())
	return nil
}

// OnStreamDeltaResponse is called before a Delta response is sent.
func (c *callbacks) OnStreamDeltaResponse(id int64, _ *discoverygrpc.DeltaDiscoveryRequest, resp *discoverygrpc.DeltaDiscoveryResponse) {
	c.response(id, resp.GetTypeUrl(), resp.GetNonce(), resp.GetSystemVersionInfo())
}

// OnFetchRequest is called for REST requests, which jwtgate does not serve.
func (c *callbacks) OnFetchRequest(context.Context, *discoverygrpc.DiscoveryRequest) error {
	return nil
}

// OnFetchResponse is called for REST responses.
func (c *callbacks) OnFetchResponse(*discoverygrpc.DiscoveryRequest, *discoverygrpc.DiscoveryResponse) {
}
