package translate

import "strings"

// serverHost strips the namespace part of a Gateway server host
// ("ns/host", "./host", "*/host"); the namespace restriction is not
// honoured yet.
func serverHost(h string) string {
	if _, host, ok := strings.Cut(h, "/"); ok {
		return host
	}
	return h
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

// domains are the Envoy virtual host domains for a host: "*" stays alone,
// any other host also matches with an explicit port.
func domains(host string) []string {
	if host == "*" {
		return []string{"*"}
	}
	return []string{host, host + ":*"}
}
