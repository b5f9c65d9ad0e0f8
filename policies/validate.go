package policies

import (
	"fmt"
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

// warningText formats a warning as "file:line: field: message".
func warningText(w *FieldError) string {
	return fmt.Sprintf("%s:%d: %s: %s", w.File, w.Line, w.Field, w.Msg)
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
			if h == "" {
				c.errf(fmt.Sprintf("%s.hosts[%d]", p, j), "host must not be empty")
			}
		}
	}
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
		sum := int32(0)
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
			if d.Weight < 0 || d.Weight > 100 {
				c.errf(dp+".weight", "weight %d is out of range 0-100", d.Weight)
			}
			sum += d.Weight
		}
		if len(r.Route) > 1 && sum != 100 {
			c.errf(p+".route", "weights of %d destinations sum to %d, they must sum to 100", len(r.Route), sum)
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
