package policies

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func (c *checker) requestAuthentication(s *RequestAuthenticationSpec) {
	// Two rules may name the same issuer (in one document or several):
	// like istiod, each rule becomes its own jwt_authn provider.
	for i := range s.JWTRules {
		r := &s.JWTRules[i]
		p := fmt.Sprintf("spec.jwtRules[%d]", i)
		if r.Issuer == "" {
			c.errf(p+".issuer", "issuer must not be empty")
		}
		if r.Jwks != "" && r.JwksURI != "" {
			c.errf(p, "set either jwks or jwksUri, not both")
		}
		if r.Jwks != "" {
			for _, msg := range checkJWKS(r.Jwks) {
				c.errf(p+".jwks", "%s", msg)
			}
		}
		if r.JwksURI != "" {
			u, err := url.Parse(r.JwksURI)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				c.errf(p+".jwksUri", "%q is not an http(s) URL", r.JwksURI)
			}
		}
		if r.Timeout != "" {
			if d, err := time.ParseDuration(r.Timeout); err != nil || d <= 0 {
				c.errf(p+".timeout", "%q is not a positive duration such as \"5s\"", r.Timeout)
			}
		}
		for j, a := range r.Audiences {
			if a == "" {
				c.errf(fmt.Sprintf("%s.audiences[%d]", p, j), "audience must not be empty")
			}
		}
		for j, h := range r.FromHeaders {
			hp := fmt.Sprintf("%s.fromHeaders[%d].name", p, j)
			if c.headerName(hp, h.Name) && strings.Contains(h.Name, "_") {
				c.warnf(hp, "%q contains '_': the listener rejects requests with such header names (400, headers_with_underscores_action REJECT_REQUEST), so no token can arrive in it; use '-'", h.Name)
			}
		}
		if r.OutputPayloadToHeader != "" {
			c.headerName(p+".outputPayloadToHeader", r.OutputPayloadToHeader)
		}
		c.nonEmpty(p+".fromParams", r.FromParams, "parameter name")
		c.nonEmpty(p+".fromCookies", r.FromCookies, "cookie name")
		c.nonEmpty(p+".spaceDelimitedClaims", r.SpaceDelimitedClaims, "claim name")
		for j, h := range r.OutputClaimToHeaders {
			hp := fmt.Sprintf("%s.outputClaimToHeaders[%d]", p, j)
			c.headerName(hp+".header", h.Header)
			if h.Claim == "" {
				c.errf(hp+".claim", "claim must not be empty")
			}
		}
	}
}

// tchars are the characters of an RFC 7230 token, the syntax of a header
// field name.
const tchars = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// reservedHeaders are header names (lower case) a token may not be read
// from or written to. jwt_authn adds its output headers with addCopy and
// checks nothing, so these would reach the upstream: a second Host (two
// Host headers, one of them chosen by the token's claims), a framing
// header (content-length, transfer-encoding: request smuggling), or a
// hop-by-hop header, which Envoy's own header mutations refuse or strip
// and HTTP/2 forbids (RFC 9113 section 8.2.2).
var reservedHeaders = map[string]string{
	"host":              "Envoy keeps the host as :authority",
	"content-length":    "it frames the request body",
	"transfer-encoding": "it frames the request body",
	"connection":        "it is a hop-by-hop header",
	"keep-alive":        "it is a hop-by-hop header",
	"proxy-connection":  "it is a hop-by-hop header",
	"te":                "it is a hop-by-hop header",
	"upgrade":           "it is a hop-by-hop header",
}

// headerName checks a header name that a jwtRule reads a token from or
// writes to (fromHeaders[].name, outputPayloadToHeader,
// outputClaimToHeaders[].header): non-empty RFC 7230 token characters, not
// a pseudo-header and not reserved. Envoy's config accepts almost any name
// here, but an output header it cannot send fails every request that
// carries a valid token with 503. It reports whether the name is valid.
func (c *checker) headerName(path, name string) bool {
	switch lower := strings.ToLower(name); {
	case name == "":
		c.errf(path, "header name must not be empty")
	case strings.HasPrefix(name, ":"):
		c.errf(path, "%q is a pseudo-header: Envoy manages it; use a regular header name", name)
	case strings.Trim(name, tchars) != "":
		c.errf(path, "%q is not a valid HTTP header name: use letters, digits and -", name)
	case reservedHeaders[lower] != "":
		c.errf(path, "%q is reserved: %s", name, reservedHeaders[lower])
	default:
		return true
	}
	return false
}

func (c *checker) nonEmpty(path string, values []string, what string) {
	for i, v := range values {
		if v == "" {
			c.errf(fmt.Sprintf("%s[%d]", path, i), "%s must not be empty", what)
		}
	}
}

func (c *checker) authorizationPolicy(ap *AuthorizationPolicy) {
	if v, ok := ap.Metadata.Annotations[AnnotationDryRun]; ok {
		if _, err := strconv.ParseBool(v); err != nil {
			c.errf(joinKey("metadata.annotations", AnnotationDryRun, false), "must be \"true\" or \"false\", got %q", v)
		}
	}
	s := &ap.Spec
	switch s.Action {
	case "", ActionAllow:
	case ActionDeny, ActionAudit:
		if len(s.Rules) == 0 {
			c.errf("spec.rules", "a %s policy needs at least one rule", s.Action)
		}
	case ActionCustom:
		c.errf("spec.action", "%s", customUnsupported)
	default:
		c.errf("spec.action", "unknown action %q: use ALLOW, DENY or AUDIT", s.Action)
	}
	for i := range s.Rules {
		r := &s.Rules[i]
		p := fmt.Sprintf("spec.rules[%d]", i)
		for j := range r.From {
			c.source(fmt.Sprintf("%s.from[%d].source", p, j), &r.From[j].Source)
		}
		for j := range r.To {
			c.operation(fmt.Sprintf("%s.to[%d].operation", p, j), &r.To[j].Operation, s.Action)
		}
		for j := range r.When {
			c.condition(fmt.Sprintf("%s.when[%d]", p, j), &r.When[j])
		}
	}
}

const mtlsOnly = "never matches at a plaintext ingress (it needs an mTLS peer identity)"

func (c *checker) source(p string, s *Source) {
	all := [][]string{s.Principals, s.NotPrincipals, s.RequestPrincipals, s.NotRequestPrincipals,
		s.Namespaces, s.NotNamespaces, s.IPBlocks, s.NotIPBlocks, s.RemoteIPBlocks, s.NotRemoteIPBlocks}
	if countSet(all) == 0 {
		c.errf(p, "source must not be empty: set at least one field or remove the from entry")
		return
	}
	for _, f := range []struct {
		name   string
		values []string
	}{{"principals", s.Principals}, {"notPrincipals", s.NotPrincipals}, {"namespaces", s.Namespaces}, {"notNamespaces", s.NotNamespaces}} {
		if len(f.values) > 0 {
			c.warnf(p+"."+f.name, "%s", mtlsOnly)
		}
	}
	c.wildcards(p+".requestPrincipals", s.RequestPrincipals)
	c.wildcards(p+".notRequestPrincipals", s.NotRequestPrincipals)
	c.ipBlocks(p+".ipBlocks", s.IPBlocks)
	c.ipBlocks(p+".notIpBlocks", s.NotIPBlocks)
	c.ipBlocks(p+".remoteIpBlocks", s.RemoteIPBlocks)
	c.ipBlocks(p+".notRemoteIpBlocks", s.NotRemoteIPBlocks)
}

func (c *checker) operation(p string, o *Operation, action string) {
	all := [][]string{o.Hosts, o.NotHosts, o.Ports, o.NotPorts, o.Methods, o.NotMethods, o.Paths, o.NotPaths}
	if countSet(all) == 0 {
		c.errf(p, "operation must not be empty: set at least one field or remove the to entry")
		return
	}
	c.wildcards(p+".hosts", o.Hosts)
	c.wildcards(p+".notHosts", o.NotHosts)
	if action == ActionDeny {
		c.hostsWithoutPort(p+".hosts", o.Hosts)
	}
	if action == "" || action == ActionAllow || action == ActionDeny {
		c.hostsWithoutPort(p+".notHosts", o.NotHosts)
	}
	c.ports(p+".ports", o.Ports)
	c.ports(p+".notPorts", o.NotPorts)
	c.nonEmpty(p+".methods", o.Methods, "method")
	c.nonEmpty(p+".notMethods", o.NotMethods, "method")
	c.wildcards(p+".paths", o.Paths)
	c.wildcards(p+".notPaths", o.NotPaths)
	c.relativePaths(p+".paths", o.Paths, "never matches")
	c.relativePaths(p+".notPaths", o.NotPaths, "never matches, so it excludes nothing")
}

// relativePaths warns about path values that start with neither '/' nor
// '*': Istio accepts them, but the request path Envoy matches always
// starts with '/', so an exact or prefix value like "admin" or "api/*"
// can never match.
func (c *checker) relativePaths(path string, values []string, effect string) {
	for i, v := range values {
		if v == "" || strings.HasPrefix(v, "/") || strings.HasPrefix(v, "*") {
			continue
		}
		c.warnf(fmt.Sprintf("%s[%d]", path, i), "%q %s: request paths always start with '/'; write %q", v, effect, "/"+v)
	}
}

// hostsWithoutPort warns about hosts without a port in a DENY policy's
// hosts or in notHosts, where a miss opens access: hosts match the whole
// :authority, which carries the port whenever it is not the scheme's
// default (always behind --port-offset), so "a.com" misses "a.com:8080".
// Istio gives the same advice: list "a.com:*" too. A suffix value
// "*.a.com" cannot take ":*", so it needs "*.a.com:PORT" per port.
func (c *checker) hostsWithoutPort(path string, values []string) {
	withPort := func(v string) bool { // some value is v plus a port
		for _, o := range values {
			if len(o) > len(v)+1 && strings.EqualFold(o[:len(v)+1], v+":") {
				return true
			}
		}
		return false
	}
	for i, v := range values {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case v == "" || strings.HasSuffix(v, "*") || strings.Contains(v, ":") || withPort(v):
		case strings.HasPrefix(v, "*"):
			c.warnf(p, "%q does not match %q: the :authority carries the port unless it is the default; also list %q for each port clients use", v, "x"+v[1:]+":8080", v+":PORT")
		default:
			c.warnf(p, "%q does not match %q: the :authority carries the port unless it is the default; also list %q", v, v+":8080", v+":*")
		}
	}
}

func countSet(lists [][]string) int {
	n := 0
	for _, l := range lists {
		if len(l) > 0 {
			n++
		}
	}
	return n
}

// wildcards checks Istio's string match values: "*" alone, a prefix "x*",
// a suffix "*x", or an exact value without "*".
func (c *checker) wildcards(path string, values []string) {
	for i, v := range values {
		p := fmt.Sprintf("%s[%d]", path, i)
		inner := strings.TrimSuffix(strings.TrimPrefix(v, "*"), "*")
		switch {
		case v == "":
			c.errf(p, "value must not be empty")
		case v == "*":
		case strings.HasPrefix(v, "*") && strings.HasSuffix(v, "*"):
			c.errf(p, "%q: '*' may be used as a prefix or a suffix, not both", v)
		case strings.Contains(inner, "*"):
			c.errf(p, "%q: '*' is only allowed alone, at the start (suffix match) or at the end (prefix match)", v)
		}
	}
}

func (c *checker) ports(path string, values []string) {
	for i, v := range values {
		if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 65535 {
			c.errf(fmt.Sprintf("%s[%d]", path, i), "%q is not a port number (1-65535)", v)
		}
	}
}

func (c *checker) ipBlocks(path string, values []string) {
	for i, v := range values {
		if !validIPBlock(v) {
			c.errf(fmt.Sprintf("%s[%d]", path, i), "%q is not an IP address or CIDR block", v)
		}
	}
}

func validIPBlock(v string) bool {
	if _, err := netip.ParseAddr(v); err == nil {
		return true
	}
	_, err := netip.ParsePrefix(v)
	return err == nil
}

var (
	headerKey = regexp.MustCompile(`^request\.headers\[[^\[\]]+\]$`)
	claimKey  = regexp.MustCompile(`^request\.auth\.claims(\[[^\[\]]+\])+$`)
)

// plainKeys are the `when` keys without brackets, mapped to whether they
// can ever match at a plaintext ingress.
var plainKeys = map[string]bool{
	"remote.ip":              true,
	"destination.ip":         true,
	"source.ip":              true,
	"request.auth.principal": true,
	"request.auth.audiences": true,
	"request.auth.presenter": true,
	"destination.port":       true,
	"connection.sni":         true,
	"source.principal":       false,
	"source.namespace":       false,
}

const validKeys = "request.headers[NAME], remote.ip, source.ip, destination.ip, request.auth.principal, " +
	"request.auth.audiences, request.auth.presenter, request.auth.claims[NAME]..., " +
	"destination.port, connection.sni, source.principal, source.namespace"

func (c *checker) condition(p string, w *Condition) {
	matches, known := plainKeys[w.Key]
	switch {
	case known && !matches:
		c.warnf(p+".key", "%s %s", w.Key, mtlsOnly)
	case known, headerKey.MatchString(w.Key), claimKey.MatchString(w.Key):
	default:
		c.errf(p+".key", "unsupported key %q; valid keys: %s", w.Key, validKeys)
		return
	}
	if len(w.Values) == 0 && len(w.NotValues) == 0 {
		c.errf(p, "a condition needs values or notValues")
	}
	for _, f := range []struct {
		name   string
		values []string
	}{{"values", w.Values}, {"notValues", w.NotValues}} {
		switch w.Key {
		case "remote.ip", "source.ip", "destination.ip":
			c.ipBlocks(p+"."+f.name, f.values)
		case "destination.port":
			c.ports(p+"."+f.name, f.values)
		default:
			c.nonEmpty(p+"."+f.name, f.values, "value")
		}
	}
}

// noTokenWarnings warns, when the tree has no RequestAuthentication at
// all, about every requestPrincipals, notRequestPrincipals and
// request.auth.* condition: without a jwt_authn provider no request
// carries a verified token, so such a field never matches (its not-form
// always matches): an ALLOW rule that needs a token refuses (401) even a
// request with a valid token, a DENY rule that needs one never fires.
func noTokenWarnings(docs []*document) ErrorList {
	for _, d := range docs {
		if _, ok := d.obj.(*RequestAuthentication); ok {
			return nil
		}
	}
	const why = "no RequestAuthentication in the tree: requests can never carry a verified token, so"
	var warns ErrorList
	for _, d := range docs {
		ap, ok := d.obj.(*AuthorizationPolicy)
		if !ok {
			continue
		}
		var effect string
		switch ap.Spec.Action {
		case "", ActionAllow:
			effect = ": requests only this rule allows are refused, even with a valid token"
		case ActionDeny:
			effect = ": this DENY rule never fires"
		}
		c := &checker{d: d}
		for i, r := range ap.Spec.Rules {
			for j, f := range r.From {
				p := fmt.Sprintf("spec.rules[%d].from[%d].source", i, j)
				if len(f.Source.RequestPrincipals) > 0 {
					c.warnf(p+".requestPrincipals", "%s requestPrincipals never match%s", why, effect)
				}
				if len(f.Source.NotRequestPrincipals) > 0 {
					c.warnf(p+".notRequestPrincipals", "%s notRequestPrincipals always match", why)
				}
			}
			for j, w := range r.When {
				if !strings.HasPrefix(w.Key, "request.auth.") {
					continue
				}
				p := fmt.Sprintf("spec.rules[%d].when[%d].key", i, j)
				if len(w.Values) > 0 {
					c.warnf(p, "%s %s never matches%s", why, w.Key, effect)
				} else {
					c.warnf(p, "%s %s notValues always match", why, w.Key)
				}
			}
		}
		warns = append(warns, c.warns...)
	}
	return warns
}
