package policies

import (
	"fmt"
	"sort"
	"strings"
)

// Tree-wide analysis, in the spirit of istioctl analyze: findings that are
// valid on their own but make a document do nothing in this tree, so the
// gate stays open (or a route never serves) without any error. They are
// warnings: the tree still loads.

// treeWarnings analyses docs as a whole. Each warning names the file, line
// and field, what is wrong and how to fix it.
func treeWarnings(docs []*document) ErrorList {
	t := newTreeIndex(docs)
	var warns ErrorList
	for _, d := range docs {
		c := &checker{d: d}
		switch o := d.obj.(type) {
		case *VirtualService:
			c.gatewayRefs(o, t)
		case *RequestAuthentication:
			c.defaultedNamespace()
			c.selectorMatchesGateway(o.Spec.Selector, t)
		case *AuthorizationPolicy:
			c.defaultedNamespace()
			c.selectorMatchesGateway(o.Spec.Selector, t)
			if t.hasRequestAuthentication {
				c.principalIssuers(o, t)
			}
		}
		warns = append(warns, c.warns...)
	}
	return warns
}

// treeIndex is what the analysis needs to know about the whole tree.
type treeIndex struct {
	gateways map[string]bool // "namespace/name"
	// gatewayNames lists the Gateways as "namespace/name", sorted.
	gatewayNames []string
	// selectors are the Gateways' selectors; anySelector: some Gateway
	// has an empty selector (it serves every Envoy, whatever its labels).
	selectors   []map[string]string
	anySelector bool
	// issuers of every jwtRule, sorted and unique.
	issuers                  []string
	hasRequestAuthentication bool
}

func newTreeIndex(docs []*document) *treeIndex {
	t := &treeIndex{gateways: map[string]bool{}}
	issuers := map[string]bool{}
	for _, d := range docs {
		switch o := d.obj.(type) {
		case *Gateway:
			key := o.Metadata.Namespace + "/" + o.Metadata.Name
			t.gateways[key] = true
			t.gatewayNames = append(t.gatewayNames, key)
			if len(o.Spec.Selector) == 0 {
				t.anySelector = true
			} else {
				t.selectors = append(t.selectors, o.Spec.Selector)
			}
		case *RequestAuthentication:
			t.hasRequestAuthentication = true
			for _, r := range o.Spec.JWTRules {
				issuers[r.Issuer] = true
			}
		}
	}
	sort.Strings(t.gatewayNames)
	t.issuers = sortedKeys(issuers)
	return t
}

// defaultedNamespace warns about a security policy without a namespace:
// it lands in "default", so it applies only to gateways (Envoys) whose
// node.metadata.namespace is "default". Consoles often pick the
// namespace in a drop-down, so YAML pasted from a guide lacks it.
func (c *checker) defaultedNamespace() {
	const ns = "default"
	if !c.d.nsDefaulted || ns == DefaultRootNamespace {
		return
	}
	c.warnf("metadata.namespace", "no namespace: assuming %q; this %s applies only to gateways in namespace %s "+
		"(policies in the root namespace %s apply to every gateway): add \"namespace: %s\" to metadata",
		ns, c.d.kind, ns, DefaultRootNamespace, DefaultRootNamespace)
}

// selectorMatchesGateway warns when a security policy's matchLabels are
// not all part of any Gateway's selector in the tree (like istioctl's
// IST0127 NoMatchingWorkloadsFound, with Gateway selectors standing in for
// the workloads jwtgate cannot see). It says nothing when the tree has no
// Gateway or a Gateway without selector.
func (c *checker) selectorMatchesGateway(sel *WorkloadSelector, t *treeIndex) {
	if sel == nil || len(sel.MatchLabels) == 0 || len(t.gatewayNames) == 0 || t.anySelector {
		return
	}
	for _, gs := range t.selectors {
		if (&WorkloadSelector{MatchLabels: sel.MatchLabels}).Matches(gs) {
			return
		}
	}
	seen := map[string]bool{}
	var known []string
	for _, gs := range t.selectors {
		if l := formatLabels(gs); !seen[l] {
			seen[l] = true
			known = append(known, l)
		}
	}
	sort.Strings(known)
	c.warnf("spec.selector.matchLabels", "%s is not part of any Gateway's selector in the tree (%s): "+
		"unless an Envoy's node.metadata.labels carry these labels, this %s applies to no gateway; "+
		"use a Gateway's selector labels or remove the selector",
		formatLabels(sel.MatchLabels), strings.Join(known, "; "), c.d.kind)
}

// formatLabels renders labels as "{k: v, k2: v2}", sorted by key.
func formatLabels(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+": "+m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// meshGateway is the reserved gateways entry for sidecars.
const meshGateway = "mesh"

// gatewayRefs warns about VirtualService gateways entries that name no
// Gateway in the tree (istioctl analyze IST0101 ReferencedResourceNotFound),
// and about a VirtualService bound only to the mesh, which jwtgate does not
// serve: its routes are never used.
func (c *checker) gatewayRefs(vs *VirtualService, t *treeIndex) {
	bound := false
	for i, ref := range vs.Spec.Gateways {
		if ref == meshGateway {
			continue
		}
		bound = true
		ns, name, ok := strings.Cut(ref, "/")
		if !ok {
			ns, name = vs.Metadata.Namespace, ref
		}
		if t.gateways[ns+"/"+name] {
			continue
		}
		msg := fmt.Sprintf("referenced gateway not found: %q (istioctl analyze IST0101): these routes serve no Gateway", ns+"/"+name)
		if near := nearestGateway(ns, name, t.gatewayNames); near != "" {
			msg += fmt.Sprintf("; did you mean %q?", near)
		} else if len(t.gatewayNames) > 0 {
			msg += "; Gateways in the tree: " + strings.Join(limit(t.gatewayNames, 5), ", ")
		}
		c.warnf(fmt.Sprintf("spec.gateways[%d]", i), "%s", msg)
	}
	if !bound {
		c.warnf("spec.gateways", "this VirtualService is bound only to the mesh (no gateways, or only %q), which jwtgate does not serve: "+
			"its routes are never used; list the Gateway, e.g. gateways: [NAME]", meshGateway)
	}
}

// nearestGateway suggests a Gateway for a reference ns/name that matched
// none: a name within edit distance 2 in namespace ns (written as the
// bare name), else the same name in another namespace (as "ns/name").
func nearestGateway(ns, name string, gateways []string) string {
	best, bestDist := "", 3
	for _, g := range gateways {
		gns, gname, _ := strings.Cut(g, "/")
		if gns != ns {
			continue
		}
		if d := editDistance(name, gname); d < bestDist {
			best, bestDist = gname, d
		}
	}
	if best != "" {
		return best
	}
	for _, g := range gateways {
		if _, gname, _ := strings.Cut(g, "/"); gname == name {
			return g
		}
	}
	return ""
}

func limit(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(append([]string(nil), s[:n]...), fmt.Sprintf("... (%d more)", len(s)-n))
}

// principalIssuers warns about requestPrincipals and notRequestPrincipals
// values whose issuer part (before the last '/') no jwtRule in the tree
// has: no verified token carries that issuer, so the value never matches
// (an ALLOW rule never allows, a DENY rule never fires). It also warns
// about a value without '/' that names an issuer: "iss" means issuer iss
// with an EMPTY subject, which is rarely meant.
func (c *checker) principalIssuers(ap *AuthorizationPolicy, t *treeIndex) {
	for i, r := range ap.Spec.Rules {
		for j, f := range r.From {
			p := fmt.Sprintf("spec.rules[%d].from[%d].source", i, j)
			c.issuerValues(p+".requestPrincipals", f.Source.RequestPrincipals, t)
			c.issuerValues(p+".notRequestPrincipals", f.Source.NotRequestPrincipals, t)
		}
	}
}

func (c *checker) issuerValues(path string, values []string, t *treeIndex) {
	for i, v := range values {
		p := fmt.Sprintf("%s[%d]", path, i)
		form, iss := principalIssuer(v)
		if form == "" {
			continue
		}
		matched := false
		for _, known := range t.issuers {
			switch form {
			case "exact":
				matched = known == iss
			case "prefix":
				matched = strings.HasPrefix(known, iss)
			case "suffix":
				matched = strings.HasSuffix(known, iss)
			}
			if matched {
				break
			}
		}
		if !matched {
			what := fmt.Sprintf("issuer %q", iss)
			if form != "exact" {
				what = fmt.Sprintf("issuer pattern %q (%s)", iss, form)
			}
			c.warnf(p, "%q: %s is not the issuer of any jwtRule in the tree (%s), so no verified token matches this value; "+
				"write \"<issuer>/<subject>\" with the issuer of a RequestAuthentication",
				v, what, strings.Join(limit(t.issuers, 5), ", "))
			continue
		}
		if form == "exact" && !strings.Contains(v, "/") {
			c.warnf(p, "%q has no '/': it means issuer %q with an EMPTY subject; for any subject of that issuer write %q",
				v, v, v+"/*")
		}
	}
}

// principalIssuer returns how a request principal value constrains the
// token's issuer, following translate's reading of "<iss>/<sub>" (split
// at the last '/'): form "exact", "prefix" or "suffix" with the issuer
// text, or "" when the value leaves the issuer open ("*", "*/sub", "*x").
func principalIssuer(v string) (form, iss string) {
	i := strings.LastIndex(v, "/")
	switch {
	case v == "*":
		return "", ""
	case strings.HasPrefix(v, "*"):
		if i < 0 || v[:i] == "*" {
			return "", ""
		}
		return "suffix", v[1:i]
	case strings.HasSuffix(v, "*") && i < 0:
		return "prefix", v[:len(v)-1]
	case i < 0:
		return "exact", v
	default:
		return "exact", v[:i]
	}
}
