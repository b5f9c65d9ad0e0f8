// Package xds serves translated Envoy resources over ADS (SotW and Delta)
// from go-control-plane's snapshot cache. Gateways with the same identity
// share one snapshot; versions are content hashes; a policy update is
// applied to every gateway group or to none.
package xds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	endpointservice "github.com/envoyproxy/go-control-plane/envoy/service/endpoint/v3"
	listenerservice "github.com/envoyproxy/go-control-plane/envoy/service/listener/v3"
	routeservice "github.com/envoyproxy/go-control-plane/envoy/service/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/sotw/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"

	"github.com/jwtgate/jwtgate/policies"
	"github.com/jwtgate/jwtgate/translate"
)

// TranslateFunc builds the resources of one gateway identity from a Set.
// cmd binds translate.Translate with its options; tests pass fakes.
type TranslateFunc func(*policies.Set, policies.Identity) (*translate.Resources, error)

// Server is the xDS control plane: a snapshot cache in ADS mode behind a
// gRPC ADS server (SotW with ordered ADS, and Delta).
type Server struct {
	log       *slog.Logger
	translate TranslateFunc
	cache     cachev3.SnapshotCache
	xds       serverv3.Server
	cancel    context.CancelFunc
	metrics   *Metrics
	ready     atomic.Bool

	// now is the clock for timings and status; tests may replace it.
	now func() time.Time

	// mu guards everything below, the callbacks' stream states included.
	mu      sync.Mutex
	set     *policies.Set              // last Set accepted by Update
	groups  map[string]*group          // by GroupKey
	streams map[streamKey]*streamState // open streams, SotW and Delta
}

// group is the gateways sharing one identity, hence one snapshot.
type group struct {
	id      policies.Identity
	streams int
	version string            // "" until a snapshot is set
	snap    *cachev3.Snapshot // the snapshot at version
	// setAt is when recent versions were produced: the start of the Update
	// (or the first connection) that built them, newest last.
	setAt    []versionTime
	lastNACK *NACKStatus
}

type versionTime struct {
	version string
	at      time.Time
}

// maxVersionTimes bounds a group's version history: an Envoy that ACKs a
// version older than these is far behind anyway.
const maxVersionTimes = 8

// producedAt returns when version was produced, if it is recent.
func (g *group) producedAt(version string) (time.Time, bool) {
	for i := len(g.setAt) - 1; i >= 0; i-- {
		if g.setAt[i].version == version {
			return g.setAt[i].at, true
		}
	}
	return time.Time{}, false
}

// New returns a Server that translates with tr and logs to logger.
func New(tr TranslateFunc, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		log:       logger,
		translate: tr,
		cancel:    cancel,
		metrics:   &Metrics{},
		now:       time.Now,
		groups:    map[string]*group{},
		streams:   map[streamKey]*streamState{},
	}
	s.metrics.ready = s.Ready
	cpLog := cpLogger{logger}
	s.cache = cachev3.NewSnapshotCache(true, nodeHash{}, cpLog)
	s.xds = serverv3.NewServer(ctx, s.cache, &callbacks{s: s}, sotw.WithOrderedADS(), sotw.WithLogger(cpLog))
	return s
}

// Register adds the aggregated discovery service (SotW and Delta) and the
// per-type LDS, RDS, CDS and EDS services to g.
func (s *Server) Register(g *grpc.Server) {
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(g, s.xds)
	listenerservice.RegisterListenerDiscoveryServiceServer(g, s.xds)
	routeservice.RegisterRouteDiscoveryServiceServer(g, s.xds)
	clusterservice.RegisterClusterDiscoveryServiceServer(g, s.xds)
	endpointservice.RegisterEndpointDiscoveryServiceServer(g, s.xds)
}

// Shutdown ends every open xDS stream, so grpc.Server.GracefulStop can
// return. The Server must not be used afterwards.
func (s *Server) Shutdown() { s.cancel() }

// Metrics returns the server's counters.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Ready reports whether a Set has been accepted by Update.
func (s *Server) Ready() bool { return s.ready.Load() }

// Update translates set for every connected gateway group. Only when every
// translation succeeds and every snapshot is consistent are the snapshots
// replaced; otherwise the error is returned and all old snapshots stay.
// The set is remembered for groups that connect later. It logs "policy set
// accepted" with the number of groups and how many of them changed (a set
// that changes nothing for any Envoy says changed=0), and "snapshot updated"
// for each group whose version changed.
func (s *Server) Update(set *policies.Set) error {
	if set == nil {
		s.metrics.reload(false, "")
		return errors.New("nil policy set")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	start := s.now()

	keys := make([]string, 0, len(s.groups))
	for k := range s.groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	snaps := make([]*cachev3.Snapshot, len(keys))
	for i, k := range keys {
		snap, err := s.build(set, s.groups[k].id)
		if err != nil {
			s.metrics.reload(false, "")
			return fmt.Errorf("gateway %s: %w", k, err)
		}
		snaps[i] = snap
	}
	var errs []error
	changed := 0
	for i, k := range keys {
		ok, err := s.apply(k, s.groups[k], snaps[i], start)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			changed++
		}
	}
	s.set = set
	s.ready.Store(true)
	s.metrics.reload(true, set.Hash)
	s.log.Info("policy set accepted", "hash", set.Hash, "groups", len(keys), "changed", changed,
		"took", s.now().Sub(start).Round(time.Microsecond))
	return errors.Join(errs...)
}

// build translates set for id into a consistent snapshot.
func (s *Server) build(set *policies.Set, id policies.Identity) (*cachev3.Snapshot, error) {
	res, err := s.translate(set, id)
	if err != nil {
		return nil, err
	}
	if res == nil {
		return nil, errors.New("translation returned no resources")
	}
	version, err := Version(res)
	if err != nil {
		return nil, fmt.Errorf("version: %w", err)
	}
	snap, err := cachev3.NewSnapshot(version, map[resource.Type][]types.Resource{
		resource.ClusterType:  asResources(res.Clusters),
		resource.RouteType:    asResources(res.Routes),
		resource.ListenerType: asResources(res.Listeners),
	})
	if err != nil {
		return nil, err
	}
	if err := snap.Consistent(); err != nil {
		return nil, fmt.Errorf("inconsistent snapshot: %w", err)
	}
	return snap, nil
}

// apply sets snap for group key unless it already has that version, and
// reports whether it did. at is when the Update (or connection) that built
// snap began. A snapshot without listeners is warned about: the group's
// Envoys then serve nothing. The caller holds s.mu.
func (s *Server) apply(key string, g *group, snap *cachev3.Snapshot, at time.Time) (bool, error) {
	version := snap.GetVersion(resource.ListenerType)
	if version == g.version {
		return false, nil
	}
	if err := s.cache.SetSnapshot(context.Background(), key, snap); err != nil {
		return false, fmt.Errorf("gateway %s: set snapshot: %w", key, err)
	}
	previous := g.version
	g.version, g.snap = version, snap
	g.setAt = append(g.setAt, versionTime{version, at})
	if n := len(g.setAt) - maxVersionTimes; n > 0 {
		g.setAt = append(g.setAt[:0], g.setAt[n:]...)
	}
	s.metrics.snapshotUpdates.Add(1)
	s.log.Info("snapshot updated", "group", key, "version", version, "previous", previous)
	if len(snap.GetResources(resource.ListenerType)) == 0 {
		s.log.Warn(fmt.Sprintf("gateway group %s matches no Gateway: Envoy gets no listeners; "+
			"check node.metadata.labels against Gateway spec.selector", key),
			"group", key, "version", version)
	}
	return true, nil
}

// join adds a stream to its node's group. A group seen for the first time
// is translated from the last Set at once, before its first watch opens.
// The caller holds s.mu.
func (s *Server) join(st *streamState) {
	g, ok := s.groups[st.group]
	if !ok {
		g = &group{id: st.identity}
		s.groups[st.group] = g
		if s.set != nil {
			snap, err := s.build(s.set, g.id)
			if err == nil {
				_, err = s.apply(st.group, g, snap, s.now())
			}
			if err != nil {
				s.log.Error("cannot build configuration for new gateway group",
					"group", st.group, "node", st.nodeID, "error", err)
			}
		}
	}
	g.streams++
}

// leave removes a stream from its group and clears the group's snapshot
// when its last stream closes. The caller holds s.mu.
func (s *Server) leave(st *streamState) {
	g, ok := s.groups[st.group]
	if !ok {
		return
	}
	g.streams--
	if g.streams <= 0 {
		delete(s.groups, st.group)
		s.cache.ClearSnapshot(st.group)
		s.log.Info("gateway group gone, snapshot cleared", "group", st.group)
	}
}

// GroupVersion returns the snapshot version of a connected identity, or ""
// when it has none.
func (s *Server) GroupVersion(id policies.Identity) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.groups[GroupKey(id)]; ok {
		return g.version
	}
	return ""
}

func asResources[T types.Resource](in []T) []types.Resource {
	out := make([]types.Resource, len(in))
	for i, r := range in {
		out[i] = r
	}
	return out
}

// ReportLoadError counts a policy reload that failed before translation
// (the policy tree did not load); the configuration in force stays.
func (s *Server) ReportLoadError(err error) {
	s.metrics.reload(false, "")
	s.log.Debug("policy reload failed", "error", err)
}
