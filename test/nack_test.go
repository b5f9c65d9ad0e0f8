package e2e

import (
	"strconv"
	"strings"
)

// assertNoNACKs checks both ends: jwtgate counted no NACK
// (jwtgate_xds_nacks_total is 0 on /metrics) and Envoy rejected no update
// (every lds/cds/rds update_rejected counter in admin /stats is 0).
func (s *stack) assertNoNACKs() {
	t := s.t
	t.Helper()

	metrics := s.get("http://" + hostPort(s.httpPort) + "/metrics")
	samples := 0
	for _, line := range strings.Split(metrics, "\n") {
		if !strings.HasPrefix(line, "jwtgate_xds_nacks_total") {
			continue
		}
		rest := strings.TrimPrefix(line, "jwtgate_xds_nacks_total")
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue // another metric with this prefix
		}
		samples++
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil || v != 0 {
			t.Errorf("jwtgate /metrics: %q, want 0 NACKs", line)
		}
	}
	if samples == 0 {
		t.Errorf("jwtgate /metrics has no jwtgate_xds_nacks_total sample:\n%s", metrics)
	}

	stats := s.get("http://" + hostPort(s.adminPort) + "/stats?filter=update_rejected")
	seen := map[string]bool{}
	for _, line := range strings.Split(stats, "\n") {
		name, value, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		for _, api := range []string{"lds", "cds", "rds"} {
			if strings.Contains(name, "."+api+".") {
				seen[api] = true
			}
		}
		if strings.TrimSpace(value) != "0" {
			t.Errorf("Envoy admin /stats: %s, want 0 (Envoy rejected an update)", line)
		}
	}
	for _, api := range []string{"lds", "cds", "rds"} {
		if !seen[api] {
			t.Errorf("Envoy admin /stats has no %s update_rejected counter:\n%s", api, stats)
		}
	}
}
