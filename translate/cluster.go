package translate

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jwtgate/jwtgate/policies"
)

// defaultDestinationPort is used when a destination names no port.
const defaultDestinationPort = 80

// clusterSet collects the distinct upstream clusters routes refer to.
type clusterSet struct {
	resolve map[string]string
	byName  map[string]*clusterv3.Cluster
}

func newClusterSet(opts Options) *clusterSet {
	return &clusterSet{resolve: opts.Resolve, byName: map[string]*clusterv3.Cluster{}}
}

// clusterName is Istio's outbound cluster name for a host and port.
func clusterName(host string, port uint32) string {
	return fmt.Sprintf("outbound|%d||%s", port, host)
}

// add returns the cluster name for d, building the cluster on first use.
func (c *clusterSet) add(d policies.Destination) (string, error) {
	port := uint32(defaultDestinationPort)
	if d.Port != nil && d.Port.Number != 0 {
		port = d.Port.Number
	}
	name := clusterName(d.Host, port)
	if _, ok := c.byName[name]; ok {
		return name, nil
	}
	cl, err := buildCluster(name, d.Host, port, c.resolve)
	if err != nil {
		return "", err
	}
	c.byName[name] = cl
	return name, nil
}

// sorted returns the clusters sorted by name.
func (c *clusterSet) sorted() []*clusterv3.Cluster {
	out := make([]*clusterv3.Cluster, 0, len(c.byName))
	for _, k := range sortedKeys(c.byName) {
		out = append(out, c.byName[k])
	}
	return out
}

// buildCluster makes the cluster for host:port. An IP literal host, or a
// host with a Resolve override ("IP" or "IP:PORT"), gives a STATIC cluster;
// any other host a STRICT_DNS cluster that prefers IPv4. Its
// per-connection buffer is limited to 32 KiB like the listener's
// (hardening.go).
func buildCluster(name, host string, port uint32, resolve map[string]string) (*clusterv3.Cluster, error) {
	addr, addrPort, static := host, port, false
	if r, ok := resolve[host]; ok {
		ip, p, err := parseResolve(r, port)
		if err != nil {
			return nil, fmt.Errorf("translate: resolve %s=%q: %w", host, r, err)
		}
		addr, addrPort, static = ip, p, true
	} else if _, err := netip.ParseAddr(host); err == nil {
		static = true
	}
	cl := &clusterv3.Cluster{
		Name:                          name,
		ConnectTimeout:                durationpb.New(5e9),
		PerConnectionBufferLimitBytes: wrapperspb.UInt32(connectionBufferLimit),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: name,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{
				LbEndpoints: []*endpointv3.LbEndpoint{{
					HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
						Address: socketAddress(addr, addrPort),
					}},
				}},
			}},
		},
	}
	if static {
		cl.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}
	} else {
		cl.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS}
		cl.DnsLookupFamily = clusterv3.Cluster_V4_PREFERRED
	}
	return cl, nil
}

// parseResolve parses "IP" (keeping port) or "IP:PORT" / "[IPv6]:PORT".
func parseResolve(s string, port uint32) (string, uint32, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String(), port, nil
	}
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	a, err := netip.ParseAddr(h)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return a.String(), uint32(n), nil
}

// socketAddress is a TCP socket address.
func socketAddress(addr string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       addr,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}
