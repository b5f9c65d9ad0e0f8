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
	issuers := map[string]int{}
	for i := range s.JWTRules {
		r := &s.JWTRules[i]
		p := fmt.Sprintf("spec.jwtRules[%d]", i)
		if r.Issuer == "" {
			c.errf(p+".issuer", "issuer must not be empty")
		} else if prev, dup := issuers[r.Issuer]; dup {
			c.errf(p+".issuer", "issuer %q is already configured by jwtRules[%d]", r.Issuer, prev)
		} else {
			issuers[r.Issuer] = i
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
			if h.Name == "" {
				c.errf(fmt.Sprintf("%s.fromHeaders[%d].name", p, j), "header name must not be empty")
			}
		}
		c.nonEmpty(p+".fromParams", r.FromParams, "parameter name")
		c.nonEmpty(p+".fromCookies", r.FromCookies, "cookie name")
		c.nonEmpty(p+".spaceDelimitedClaims", r.SpaceDelimitedClaims, "claim name")
		for j, h := range r.OutputClaimToHeaders {
			hp := fmt.Sprintf("%s.outputClaimToHeaders[%d]", p, j)
			if h.Header == "" {
				c.errf(hp+".header", "header must not be empty")
			}
			if h.Claim == "" {
				c.errf(hp+".claim", "claim must not be empty")
			}
		}
	}
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
		c.errf("spec.action", "CUSTOM (ext_authz) is not supported")
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
			c.operation(fmt.Sprintf("%s.to[%d].operation", p, j), &r.To[j].Operation)
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

func (c *checker) operation(p string, o *Operation) {
	all := [][]string{o.Hosts, o.NotHosts, o.Ports, o.NotPorts, o.Methods, o.NotMethods, o.Paths, o.NotPaths}
	if countSet(all) == 0 {
		c.errf(p, "operation must not be empty: set at least one field or remove the to entry")
		return
	}
	c.wildcards(p+".hosts", o.Hosts)
	c.wildcards(p+".notHosts", o.NotHosts)
	c.ports(p+".ports", o.Ports)
	c.ports(p+".notPorts", o.NotPorts)
	c.nonEmpty(p+".methods", o.Methods, "method")
	c.nonEmpty(p+".notMethods", o.NotMethods, "method")
	c.wildcards(p+".paths", o.Paths)
	c.wildcards(p+".notPaths", o.NotPaths)
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
	"source.ip":              true,
	"request.auth.principal": true,
	"request.auth.audiences": true,
	"request.auth.presenter": true,
	"destination.port":       true,
	"connection.sni":         true,
	"source.principal":       false,
	"source.namespace":       false,
}

const validKeys = "request.headers[NAME], remote.ip, source.ip, request.auth.principal, " +
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
		case "remote.ip", "source.ip":
			c.ipBlocks(p+"."+f.name, f.values)
		case "destination.port":
			c.ports(p+"."+f.name, f.values)
		default:
			c.nonEmpty(p+"."+f.name, f.values, "value")
		}
	}
}
