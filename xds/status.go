package xds

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// Status is the control plane's state as GET /debug/status shows it: the
// last accepted policy set and, per connected gateway group, what it was
// given and what its Envoys did with it. Groups are sorted by key, streams
// by node id then stream id, resource names by name; maps encode with
// sorted keys.
type Status struct {
	// PolicySetHash is the hash of the last Set accepted by Update ("" if
	// none yet).
	PolicySetHash string `json:"policySetHash"`
	// Ready reports whether a Set has been accepted.
	Ready  bool          `json:"ready"`
	Groups []GroupStatus `json:"groups"`
}

// GroupStatus is one gateway group: the Envoys sharing one identity, hence
// one snapshot.
type GroupStatus struct {
	// Key is the group's snapshot cache key (GroupKey).
	Key      string         `json:"key"`
	Identity IdentityStatus `json:"identity"`
	// Version is the current snapshot version ("" before the first Set).
	Version string `json:"version"`
	// VersionAt is when the Update (or first connection) that produced
	// Version began.
	VersionAt *time.Time `json:"versionAt,omitempty"`
	// Resources lists the snapshot's resource names by type URL.
	Resources map[string][]string `json:"resources"`
	// Streams are the group's open xDS streams.
	Streams []StreamStatus `json:"streams"`
	// LastNACK is the group's most recent rejection, from any of its nodes.
	LastNACK *NACKStatus `json:"lastNack,omitempty"`
}

// IdentityStatus is a gateway identity: node.metadata.namespace and labels.
type IdentityStatus struct {
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
}

// StreamStatus is one open xDS stream of one Envoy node.
type StreamStatus struct {
	ID   int64  `json:"id"`
	Node string `json:"node"`
	// Kind is "sotw" or "delta".
	Kind        string    `json:"kind"`
	ConnectedAt time.Time `json:"connectedAt"`
	// Acked is the last ACKed version per type URL.
	Acked map[string]AckStatus `json:"acked"`
	// Applied is the last version this stream ACKed for every type it
	// needs (see the "envoy applied" log line); "" before the first.
	Applied  string      `json:"applied"`
	LastNACK *NACKStatus `json:"lastNack,omitempty"`
}

// AckStatus is an accepted response.
type AckStatus struct {
	Version string    `json:"version"`
	At      time.Time `json:"at"`
}

// NACKStatus is a response an Envoy rejected.
type NACKStatus struct {
	Node    string `json:"node"`
	TypeURL string `json:"typeUrl"`
	// Version is the rejected version ("" when the NACK named an unknown
	// nonce).
	Version string    `json:"version"`
	Nonce   string    `json:"nonce"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// Status returns a copy of the control plane's state.
func (s *Server) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Ready: s.Ready(), Groups: []GroupStatus{}}
	if s.set != nil {
		st.PolicySetHash = s.set.Hash
	}
	byGroup := map[string][]StreamStatus{}
	for _, ss := range s.streams {
		if !ss.joined {
			continue
		}
		acked := map[string]AckStatus{}
		for t, a := range ss.acked {
			acked[t] = AckStatus{Version: a.version, At: a.at}
		}
		byGroup[ss.group] = append(byGroup[ss.group], StreamStatus{
			ID: ss.id, Node: ss.nodeID, Kind: ss.kind(), ConnectedAt: ss.connectedAt,
			Acked: acked, Applied: ss.applied, LastNACK: copyNACK(ss.lastNACK),
		})
	}
	keys := make([]string, 0, len(s.groups))
	for k := range s.groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g := s.groups[k]
		labels := map[string]string{}
		for lk, lv := range g.id.Labels {
			labels[lk] = lv
		}
		gs := GroupStatus{
			Key:       k,
			Identity:  IdentityStatus{Namespace: g.id.Namespace, Labels: labels},
			Version:   g.version,
			Resources: map[string][]string{},
			Streams:   byGroup[k],
			LastNACK:  copyNACK(g.lastNACK),
		}
		if at, ok := g.producedAt(g.version); ok {
			gs.VersionAt = &at
		}
		if g.snap != nil {
			for _, t := range []string{resource.ClusterType, resource.RouteType, resource.ListenerType} {
				names := []string{}
				for name := range g.snap.GetResources(t) {
					names = append(names, name)
				}
				sort.Strings(names)
				gs.Resources[t] = names
			}
		}
		if gs.Streams == nil {
			gs.Streams = []StreamStatus{}
		}
		sort.Slice(gs.Streams, func(i, j int) bool {
			a, b := gs.Streams[i], gs.Streams[j]
			if a.Node != b.Node {
				return a.Node < b.Node
			}
			return a.ID < b.ID
		})
		st.Groups = append(st.Groups, gs)
	}
	return st
}

func copyNACK(n *NACKStatus) *NACKStatus {
	if n == nil {
		return nil
	}
	c := *n
	return &c
}

// StatusHandler serves Status as indented JSON to GET and HEAD requests
// (cmd mounts it at /debug/status on the HTTP address).
func (s *Server) StatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		b, err := json.MarshalIndent(s.Status(), "", "  ")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(append(b, '\n'))
	})
}
