package xds

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// Metrics counts what the control plane does. It is safe for concurrent
// use and writes the Prometheus text exposition format.
type Metrics struct {
	nacks           atomic.Int64
	acks            atomic.Int64
	streams         atomic.Int64
	snapshotUpdates atomic.Int64
	reloadsOK       atomic.Int64
	reloadsError    atomic.Int64

	mu      sync.Mutex
	setHash string
	ready   func() bool
}

// NACKs returns how many responses Envoy rejected.
func (m *Metrics) NACKs() int64 { return m.nacks.Load() }

// ACKs returns how many latest responses Envoy accepted.
func (m *Metrics) ACKs() int64 { return m.acks.Load() }

// Streams returns the number of open xDS streams.
func (m *Metrics) Streams() int64 { return m.streams.Load() }

// SnapshotUpdates returns how many snapshots were set in the cache.
func (m *Metrics) SnapshotUpdates() int64 { return m.snapshotUpdates.Load() }

// Reloads returns the number of successful and failed policy reloads.
func (m *Metrics) Reloads() (ok, failed int64) { return m.reloadsOK.Load(), m.reloadsError.Load() }

func (m *Metrics) reload(ok bool, hash string) {
	if !ok {
		m.reloadsError.Add(1)
		return
	}
	m.reloadsOK.Add(1)
	m.mu.Lock()
	m.setHash = hash
	m.mu.Unlock()
}

// WriteTo writes every metric in Prometheus text format.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	metric := func(name, typ, help string, samples ...string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, s := range samples {
			fmt.Fprintf(&b, "%s%s\n", name, s)
		}
	}
	num := func(v int64) string { return fmt.Sprintf(" %d", v) }

	metric("jwtgate_xds_nacks_total", "counter", "xDS responses rejected by Envoy (NACK).", num(m.nacks.Load()))
	metric("jwtgate_xds_acks_total", "counter", "Latest xDS responses accepted by Envoy (ACK).", num(m.acks.Load()))
	metric("jwtgate_xds_streams", "gauge", "Open xDS streams.", num(m.streams.Load()))
	metric("jwtgate_snapshot_updates_total", "counter", "Snapshots set in the xDS cache.", num(m.snapshotUpdates.Load()))
	metric("jwtgate_policy_reloads_total", "counter", "Policy reloads by result.",
		`{result="error"}`+num(m.reloadsError.Load()), `{result="ok"}`+num(m.reloadsOK.Load()))
	m.mu.Lock()
	hash, ready := m.setHash, m.ready
	m.mu.Unlock()
	var info []string
	if hash != "" {
		info = append(info, `{hash="`+escapeLabel(hash)+`"} 1`)
	}
	metric("jwtgate_policy_set_info", "gauge", "Hash of the policy set in force.", info...)
	r := int64(0)
	if ready != nil && ready() {
		r = 1
	}
	metric("jwtgate_ready", "gauge", "1 once a policy set has been pushed.", num(r))
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// ServeHTTP serves the metrics in Prometheus text format.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m.WriteTo(w)
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
