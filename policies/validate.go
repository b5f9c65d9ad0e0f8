package policies

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strings"
)

// checker collects semantic errors and warnings for one document, locating
// each by field path.
type checker struct {
	d     *document
	errs  ErrorList
	warns ErrorList
}

func (c *checker) errf(path, format string, args ...any) {
	p := c.d.at(path)
	c.errs = append(c.errs, &FieldError{
		File: c.d.file, Line: p.line, Column: p.col, Field: path, Msg: fmt.Sprintf(format, args...),
	})
}

func (c *checker) warnf(path, format string, args ...any) {
	p := c.d.at(path)
	c.warns = append(c.warns, &FieldError{
		File: c.d.file, Line: p.line, Column: p.col, Field: path, Msg: fmt.Sprintf(format, args...),
	})
}

// validateDocument runs the semantic checks of one decoded document.
func validateDocument(d *document) (errs, warnings ErrorList) {
	c := &checker{d: d}
	c.meta(d.meta)
	switch o := d.obj.(type) {
	case *Gateway:
		c.gateway(&o.Spec)
	case *VirtualService:
		c.virtualService(&o.Spec)
	case *RequestAuthentication:
		c.requestAuthentication(&o.Spec)
	case *AuthorizationPolicy:
		c.authorizationPolicy(o)
	}
	return c.errs, c.warns
}

var (
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

func (c *checker) meta(m *ObjectMeta) {
	switch {
	case m.Name == "":
		c.errf("metadata.name", "name must not be empty")
	case len(m.Name) > 253 || !dns1123Subdomain.MatchString(m.Name):
		c.errf("metadata.name", "%q is not a valid name: use lower case letters, digits, '-' and '.'", m.Name)
	}
	if len(m.Namespace) > 63 || !dns1123Label.MatchString(m.Namespace) {
		c.errf("metadata.namespace", "%q is not a valid namespace: use lower case letters, digits and '-'", m.Namespace)
	}
}

// warningText formats a warning as "file:line: field: message", leaving
// out line and field when they are unknown.
func warningText(w *FieldError) string {
	var b strings.Builder
	b.WriteString(w.File)
	if w.Line > 0 {
		fmt.Fprintf(&b, ":%d", w.Line)
	}
	b.WriteString(": ")
	if w.Field != "" {
		b.WriteString(w.Field + ": ")
	}
	b.WriteString(w.Msg)
	return b.String()
}

// ---------------------------------------------------------------- networking

func (c *checker) gateway(s *GatewaySpec) {
	if len(s.Servers) == 0 {
		c.errf("spec.servers", "a Gateway needs at least one server")
	}
	for i := range s.Servers {
		srv := &s.Servers[i]
		p := fmt.Sprintf("spec.servers[%d]", i)
		c.port(p+".port.number", srv.Port.Number)
		switch proto := strings.ToUpper(srv.Port.Protocol); proto {
		case "HTTP":
			srv.Port.Protocol = "HTTP"
		case "HTTPS", "HTTP2", "GRPC", "GRPC-WEB", "TLS", "TCP", "MONGO", "REDIS", "MYSQL":
			c.errf(p+".port.protocol", "protocol %s is not supported yet: jwtgate serves plain HTTP only", srv.Port.Protocol)
		default:
			c.errf(p+".port.protocol", "unknown protocol %q: use HTTP", srv.Port.Protocol)
		}
		if len(srv.Hosts) == 0 {
			c.errf(p+".hosts", "a server needs at least one host (use '*' for any)")
		}
		for j, h := range srv.Hosts {
			if msg := gatewayHostProblem(h); msg != "" {
				c.errf(fmt.Sprintf("%s.hosts[%d]", p, j), "%s", msg)
			}
		}
	}
}

// gatewayHostProblem checks one Gateway server host the way istiod does
// (ValidateNamespaceSlashWildcardHostname): "host" (any namespace, like
// "*/host"), "./host" (VirtualServices in the Gateway's namespace only),
// "ns/host" (VirtualServices in ns only) or "*/host". The namespace is a
// valid namespace name; the host is "*", "*.suffix", a fully qualified DNS
// name or an IP address. It returns "" for a valid host.
func gatewayHostProblem(h string) string {
	if h == "" {
		return "host must not be empty"
	}
	host := h
	if ns, rest, ok := strings.Cut(h, "/"); ok {
		if ns == "" || rest == "" {
			return fmt.Sprintf("%q: namespace and host around '/' must not be empty (use \"ns/host\", \"./host\" or \"*/host\")", h)
		}
		if ns != "*" && ns != "." && (len(ns) > 63 || !dns1123Label.MatchString(ns)) {
			return fmt.Sprintf("%q: %q is not a namespace: use a namespace name, \".\" (the Gateway's namespace) or \"*\" (any)", h, ns)
		}
		host = rest
	}
	if host == "*" {
		return ""
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	if strings.Contains(host, "*") && !strings.HasPrefix(host, "*.") {
		return fmt.Sprintf("%q: partial wildcard: use \"*\" or \"*.example.com\"", h)
	}
	if msg := dnsNameProblem(strings.TrimPrefix(host, "*.")); msg != "" {
		return fmt.Sprintf("%q: %s", h, msg)
	}
	if !strings.Contains(host, ".") {
		return fmt.Sprintf("%q: short names are not allowed (Istio rejects them too): use a fully qualified name or \"*\"", h)
	}
	return ""
}

// dnsNameLabel is an RFC 1123 label; case is ignored, as in Host matching.
var dnsNameLabel = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$`)

// dnsNameProblem checks a DNS name (a trailing dot is allowed); it returns
// "" for a valid name.
func dnsNameProblem(name string) string {
	if len(name) > 255 {
		return "DNS name is longer than 255 characters"
	}
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	for _, l := range labels {
		if len(l) > 63 || !dnsNameLabel.MatchString(l) {
			return fmt.Sprintf("%q is not a valid DNS label: use letters, digits and '-'", l)
		}
	}
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return fmt.Sprintf("top-level domain %q must not be all digits", tld)
	}
	return ""
}

func (c *checker) port(path string, n uint32) {
	if n < 1 || n > 65535 {
		c.errf(path, "port %d is out of range 1-65535", n)
	}
}

func (c *checker) virtualService(s *VirtualServiceSpec) {
	if len(s.Hosts) == 0 {
		c.errf("spec.hosts", "a VirtualService needs at least one host (use '*' for any)")
	}
	for i, h := range s.Hosts {
		if h == "" {
			c.errf(fmt.Sprintf("spec.hosts[%d]", i), "host must not be empty")
		}
	}
	for i, g := range s.Gateways {
		if g == "" || strings.Count(g, "/") > 1 || strings.HasPrefix(g, "/") || strings.HasSuffix(g, "/") {
			c.errf(fmt.Sprintf("spec.gateways[%d]", i), "%q is not a gateway reference: use \"name\" or \"namespace/name\"", g)
		}
	}
	for i := range s.HTTP {
		r := &s.HTTP[i]
		p := fmt.Sprintf("spec.http[%d]", i)
		for j := range r.Match {
			m := &r.Match[j]
			mp := fmt.Sprintf("%s.match[%d]", p, j)
			c.stringMatch(mp+".uri", m.URI)
			if m.IgnoreURICase && m.URI != nil && m.URI.Regex != "" {
				c.warnf(mp+".ignoreUriCase", "has no effect on a uri regex (Envoy ignores case_sensitive for regex routes); write the regex case-insensitively with (?i)")
			}
			c.stringMatch(mp+".method", m.Method)
			c.stringMatch(mp+".authority", m.Authority)
			for _, name := range sortedKeys(m.Headers) {
				sm := m.Headers[name]
				c.stringMatch(joinKey(mp+".headers", name, false), &sm)
			}
		}
		if len(r.Route) == 0 {
			c.errf(p+".route", "an http rule needs at least one route destination")
		}
		sum := int64(0)
		for j := range r.Route {
			d := &r.Route[j]
			dp := fmt.Sprintf("%s.route[%d]", p, j)
			if d.Destination.Host == "" {
				c.errf(dp+".destination.host", "destination host must not be empty")
			}
			if d.Destination.Port == nil {
				c.errf(dp+".destination", "destination port is required: jwtgate has no service registry to find the port (add port: {number: 8000})")
			} else {
				c.port(dp+".destination.port.number", d.Destination.Port.Number)
			}
			if d.Weight < 0 {
				c.errf(dp+".weight", "weight %d must not be negative", d.Weight)
			} else {
				sum += int64(d.Weight)
			}
		}
		// Like istiod: weights are relative (a destination gets weight/sum
		// of the traffic), so any non-negative weights do, as long as a
		// split has some traffic to share. Envoy needs the sum to fit in
		// a uint32.
		switch {
		case len(r.Route) > 1 && sum == 0:
			c.errf(p+".route", "the weights of %d destinations sum to 0: give at least one a positive weight", len(r.Route))
		case sum > math.MaxUint32:
			c.errf(p+".route", "the weights sum to %d, more than Envoy accepts (%d)", sum, uint32(math.MaxUint32))
		}
	}
}

func (c *checker) stringMatch(path string, m *StringMatch) {
	if m == nil {
		return
	}
	set := 0
	for _, s := range []string{m.Exact, m.Prefix, m.Regex} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		c.errf(path, "set exactly one of exact, prefix or regex (found %d)", set)
		return
	}
	if m.Regex != "" {
		if _, err := regexp.Compile(m.Regex); err != nil {
			c.errf(path+".regex", "invalid regular expression (RE2): %v", err)
		}
	}
}
