package jwks

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// GuardError is a request the SSRF guard refused before any connection was
// made: a scheme other than http or https, a cloud metadata host name, or an
// address (literal or resolved) that key fetching must never reach.
type GuardError struct {
	Target string // the host, host:port or address refused
	Reason string
}

func (e *GuardError) Error() string {
	return fmt.Sprintf("refused by the SSRF guard: %s is %s (nothing was sent)", e.Target, e.Reason)
}

// Cloud metadata endpoints: AWS, GCP and Azure (169.254.169.254, also
// link-local), AWS over IPv6 (fd00:ec2::254, inside the private fc00::/7
// range that is otherwise allowed) and Alibaba Cloud (100.100.100.200,
// inside the otherwise allowed shared 100.64.0.0/10 range).
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"),
	netip.MustParseAddr("fd00:ec2::254"),
	netip.MustParseAddr("100.100.100.200"),
}

// metadataHosts are metadata service names refused before DNS is asked
// (where they resolve, they resolve to a refused address anyway).
var metadataHosts = []string{"metadata.google.internal"}

var (
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	broadcast   = netip.MustParseAddr("255.255.255.255")
	nat64       = netip.MustParsePrefix("64:ff9b::/96")
)

// blockedAddr says why key fetching must not connect to a, or "" when it
// may. Loopback and private ranges (RFC 1918, fc00::/7) are allowed: on-prem
// identity providers and tests live there. Refused: link-local
// (169.254.0.0/16, fe80::/10), cloud metadata addresses, unspecified
// (0.0.0.0, ::) and the rest of 0.0.0.0/8, broadcast and multicast. IPv4
// addresses embedded as IPv4-mapped IPv6 or in the NAT64 prefix
// 64:ff9b::/96 are checked as IPv4.
func blockedAddr(a netip.Addr) string {
	a = a.WithZone("").Unmap()
	if a.Is6() && nat64.Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte(b[12:16]))
	}
	for _, m := range metadataAddrs {
		if a == m {
			return "a cloud metadata address"
		}
	}
	switch {
	case !a.IsValid():
		return "not an IP address"
	case a.IsUnspecified() || thisNetwork.Contains(a):
		return "an unspecified address"
	case a.IsLinkLocalUnicast():
		return "a link-local address"
	case a.IsMulticast() || a == broadcast:
		return "a multicast or broadcast address"
	}
	return ""
}

// checkURL refuses a URL the fetcher must not request: a scheme other than
// http or https, no host, a metadata host name, or a literal IP address
// that blockedAddr refuses. Host names are checked again, resolved, at
// dial time (dialControl).
func checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return &GuardError{Target: u.Redacted(), Reason: fmt.Sprintf("scheme %q (only http and https)", u.Scheme)}
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return &GuardError{Target: u.Redacted(), Reason: "a URL without host"}
	}
	for _, m := range metadataHosts {
		if host == m {
			return &GuardError{Target: host, Reason: "a cloud metadata host name"}
		}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if why := blockedAddr(a); why != "" {
			return &GuardError{Target: host, Reason: why}
		}
	}
	return nil
}

// dialControl is the net.Dialer Control hook: it runs after name
// resolution, for every address the dialer tries, before connect(2), so a
// name that resolves (or is rebound) to a refused address is never
// connected to.
func dialControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &GuardError{Target: address, Reason: "not an IP address and port"}
	}
	if why := blockedAddr(ap.Addr()); why != "" {
		return &GuardError{Target: ap.Addr().String(), Reason: why}
	}
	return nil
}

// CheckURL applies the guard's static checks to a key URL without
// resolving or connecting: the scheme must be http or https, the host must
// not be a cloud metadata host name, and a literal IP host must not be an
// address key fetching refuses (link-local, cloud metadata, unspecified,
// broadcast, multicast). It is what can be checked for a URL that someone
// else fetches (Envoy's remote_jwks): a host name that resolves to a
// refused address is only caught by the Fetcher, which checks every
// resolved address at dial time. The error is a *GuardError.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return &GuardError{Target: raw, Reason: "not a URL"}
	}
	return checkURL(u)
}

// CheckAddr refuses an IP address that key fetching must never connect to
// (see CheckURL), for addresses given outside a URL, such as a --resolve
// override of a key URL's host. The error is a *GuardError.
func CheckAddr(a netip.Addr) error {
	if why := blockedAddr(a); why != "" {
		return &GuardError{Target: a.String(), Reason: why}
	}
	return nil
}
