package translate

import "strings"

// serverHost splits a Gateway server host into the namespace part and the
// host, as istiod reads it: "ns/host" admits only VirtualServices in
// namespace ns, "./host" only those in the Gateway's own namespace
// (gwNamespace), "*/host" and a bare "host" VirtualServices in any
// namespace.
func serverHost(h, gwNamespace string) (ns, host string) {
	ns, host, ok := strings.Cut(h, "/")
	switch {
	case !ok:
		return "*", h
	case ns == ".":
		return gwNamespace, host
	}
	return ns, host
}

// admitsNamespace reports whether the namespace part ns of a server host
// (see serverHost) lets a VirtualService in namespace vsNamespace bind it.
func admitsNamespace(ns, vsNamespace string) bool {
	return ns == "*" || ns == vsNamespace
}

// intersectHost returns the host that both a VirtualService host and a
// Gateway server host accept: the more specific of the two when one covers
// the other ("*" covers everything, "*.a.com" covers "b.a.com" and
// "*.b.a.com"), or "" when they do not overlap. Hosts compare
// case-insensitively.
func intersectHost(vsHost, gwHost string) string {
	vsHost, gwHost = strings.ToLower(vsHost), strings.ToLower(gwHost)
	switch {
	case vsHost == gwHost:
		return vsHost
	case covers(gwHost, vsHost):
		return vsHost
	case covers(vsHost, gwHost):
		return gwHost
	}
	return ""
}

// covers reports whether wildcard pattern p matches every name h matches.
func covers(p, h string) bool {
	if p == "*" {
		return true
	}
	suffix, ok := strings.CutPrefix(p, "*")
	if !ok {
		return false
	}
	return h != "*" && len(h) > len(suffix) && strings.HasSuffix(h, suffix)
}

// domains are the Envoy virtual host domains for a host: the host alone.
// The route configuration sets ignore_port_in_host_matching (like istiod's
// gateway routes), so "a.com" and "*.a.com" also match a Host header with
// any port ("a.com:8080", "b.a.com:8080"); a "host:*" domain would not do
// that for a wildcard host.
func domains(host string) []string {
	return []string{host}
}
