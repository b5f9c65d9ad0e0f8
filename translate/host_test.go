package translate

import (
	"slices"
	"testing"

	"github.com/jwtgate/jwtgate/policies"
)

func TestIntersectHost(t *testing.T) {
	tests := []struct{ vs, gw, want string }{
		{"*", "*", "*"},
		{"a.com", "*", "a.com"},
		{"*", "a.com", "a.com"},
		{"A.com", "a.COM", "a.com"},
		{"b.a.com", "*.a.com", "b.a.com"},
		{"*.a.com", "b.a.com", "b.a.com"},
		{"*.b.a.com", "*.a.com", "*.b.a.com"},
		{"*.a.com", "*.b.a.com", "*.b.a.com"},
		{"a.com", "*.a.com", ""},
		{"a.com", "b.com", ""},
		{"*.a.com", "*.b.com", ""},
	}
	for _, tt := range tests {
		if got := intersectHost(tt.vs, tt.gw); got != tt.want {
			t.Errorf("intersectHost(%q, %q) = %q, want %q", tt.vs, tt.gw, got, tt.want)
		}
	}
}

func TestServerHost(t *testing.T) {
	tests := []struct {
		in, wantNS, wantHost string
	}{
		{"ns/a.com", "ns", "a.com"},
		{"./a.com", "istio-system", "a.com"},
		{"*/*", "*", "*"},
		{"*/a.com", "*", "a.com"},
		{"a.com", "*", "a.com"},
		{"*", "*", "*"},
	}
	for _, tt := range tests {
		ns, host := serverHost(tt.in, "istio-system")
		if ns != tt.wantNS || host != tt.wantHost {
			t.Errorf("serverHost(%q) = %q, %q, want %q, %q", tt.in, ns, host, tt.wantNS, tt.wantHost)
		}
	}
}

func TestAdmitsNamespace(t *testing.T) {
	tests := []struct {
		ns, vsNS string
		want     bool
	}{
		{"*", "default", true},
		{"default", "default", true},
		{"istio-system", "default", false},
		{"~", "default", false},
	}
	for _, tt := range tests {
		if got := admitsNamespace(tt.ns, tt.vsNS); got != tt.want {
			t.Errorf("admitsNamespace(%q, %q) = %v, want %v", tt.ns, tt.vsNS, got, tt.want)
		}
	}
}

// TestVSHostsServerNamespace: a server host's namespace part decides which
// VirtualServices may bind it (review round 3: a VirtualService in another
// namespace must not capture a "./host" of a Gateway in istio-system).
func TestVSHostsServerNamespace(t *testing.T) {
	gw := &policies.Gateway{Metadata: meta("istio-system", "gw")}
	server := func(hosts ...string) []boundServer {
		return []boundServer{{gateway: gw, server: policies.Server{Port: policies.Port{Number: 80, Protocol: "HTTP"}, Hosts: hosts}}}
	}
	vs := func(ns string, hosts ...string) *policies.VirtualService {
		return &policies.VirtualService{Metadata: meta(ns, "vs"), Spec: policies.VirtualServiceSpec{Hosts: hosts, Gateways: []string{"istio-system/gw"}}}
	}
	tests := []struct {
		name    string
		vs      *policies.VirtualService
		servers []boundServer
		want    []string
	}{
		{"./ admits the Gateway's namespace", vs("istio-system", "admin.example.com"), server("./admin.example.com"), []string{"admin.example.com"}},
		{"./ rejects another namespace", vs("default", "admin.example.com"), server("./admin.example.com"), nil},
		{"ns/ admits ns", vs("default", "*"), server("default/api.example.com"), []string{"api.example.com"}},
		{"ns/ rejects other", vs("team", "*"), server("default/api.example.com"), nil},
		{"*/ admits any", vs("team", "api.example.com"), server("*/api.example.com"), []string{"api.example.com"}},
		{"bare host admits any", vs("team", "api.example.com"), server("*.example.com"), []string{"api.example.com"}},
		{"mixed hosts: only the admitting ones", vs("default", "*"), server("./admin.example.com", "default/api.example.com", "www.example.com"),
			[]string{"api.example.com", "www.example.com"}},
	}
	for _, tt := range tests {
		if got := vsHosts(tt.vs, tt.servers); !slices.Equal(got, tt.want) {
			t.Errorf("%s: vsHosts = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDomains(t *testing.T) {
	for _, h := range []string{"*", "a.com", "*.a.com"} {
		if got := domains(h); !slices.Equal(got, []string{h}) {
			t.Errorf("domains(%q) = %v, want [%s] (ports are ignored by the route configuration)", h, got, h)
		}
	}
}
