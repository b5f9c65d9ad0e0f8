package translate

import (
	"regexp"
	"strings"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// Path parameters (";") and path rules.
//
// Envoy 1.40 keeps RFC 3986 path parameters: "/admin;x=1" reaches the rbac
// filter and the upstream as it is, and Envoy has no option to strip them
// (normalize_path and merge_slashes leave ";" alone). Java servlet
// containers (Tomcat, Jetty) and the frameworks on top of them drop
// ";params" from every segment before they map the path, so to them
// "/admin;x=1" is "/admin" and "/admin;x/secret" is "/admin/secret". A path
// value therefore has to be matched by what a parameter-stripping upstream
// would read, and which way to err depends on what a match does:
//
//   - RESTRICTIVE: a match denies or narrows access: paths of a DENY or
//     AUDIT rule, notPaths of an ALLOW rule. It must match every variant
//     with path parameters on any segment (restrictivePathPerm).
//   - PERMISSIVE: a match grants access: paths of an ALLOW rule, notPaths
//     of a DENY or AUDIT rule. It must not match a path that a
//     parameter-stripping upstream reads differently (permissivePathPerm).
//
// Dot segments: Envoy's normalize_path resolves "..;" and ".;" like ".."
// and "." ("/x/..;/admin" becomes "/admin"), but only when the dots are
// literal. Percent-encoded dots are decoded after that step, so
// "/x/%2e%2e;/admin" reaches the upstream as "/x/..;/admin", which a
// servlet container resolves to "/admin". Such a path may stand for any
// path, so a restrictive matcher matches it too (dotParamsPerm).

// pathUse says whether a path matcher in some position is restrictive.
type pathUse bool

const (
	pathPermissive  pathUse = false
	pathRestrictive pathUse = true
)

// pathUses says how the paths and notPaths of a rule of an rbac filter
// with the given action are used: paths restrict in DENY and LOG (AUDIT)
// and permit in ALLOW; notPaths the other way round.
func pathUses(action rbacv3.RBAC_Action) (paths, notPaths pathUse) {
	if action == rbacv3.RBAC_ALLOW {
		return pathPermissive, pathRestrictive
	}
	return pathRestrictive, pathPermissive
}

// pathParam is the regular expression of the optional parameters of one
// path segment: ";" and anything up to the next "/".
const pathParam = `(?:;[^/]*)?`

// dotParamsRegex matches a path with a "." or ".." segment that carries
// parameters (see the comment at the top of this file).
const dotParamsRegex = `.*/\.\.?;.*`

// maxRegexProgramSize is Envoy's default RE2 program size limit
// (runtime re2.max_program_size.error_level, 100): a safe_regex that
// compiles to more instructions is rejected and the whole resource NACKed.
const maxRegexProgramSize = 100

// pathKind is the form of an Istio path value.
type pathKind int

const (
	pathAny    pathKind = iota // "*": any path
	pathExact                  // "/a/b"
	pathPrefix                 // "/a/*": literal "/a/"
	pathSuffix                 // "*/a.json": literal "/a.json"
)

// parsePathValue splits an Istio path value into its form and literal,
// reading "*" the way istioString does.
func parsePathValue(v string) (pathKind, string) {
	switch {
	case v == "*":
		return pathAny, ""
	case strings.HasPrefix(v, "*"):
		return pathSuffix, v[1:]
	case strings.HasSuffix(v, "*"):
		return pathPrefix, v[:len(v)-1]
	}
	return pathExact, v
}

// urlPathPerm matches the URL path (without query) with m.
func urlPathPerm(m *matcherv3.StringMatcher) *rbacv3.Permission {
	return &rbacv3.Permission{Rule: &rbacv3.Permission_UrlPath{UrlPath: &matcherv3.PathMatcher{
		Rule: &matcherv3.PathMatcher_Path{Path: m},
	}}}
}

// regexString is a safe_regex string matcher (Envoy matches the whole
// value).
func regexString(re string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: re}}}
}

// strictPathPerm is Istio's path match: exact, prefix, suffix or any.
func strictPathPerm(v string) *rbacv3.Permission {
	return urlPathPerm(istioString(v, false))
}

// dotParamsPerm matches a path with a "." or ".." segment with parameters.
func dotParamsPerm() *rbacv3.Permission {
	return urlPathPerm(regexString(dotParamsRegex))
}

// permissivePathPerm is the matcher for a path value whose match grants
// access. "*" and exact values stay Istio's matchers: an exact value
// without ";" never matches a path with parameters, so "/admin;x" is not
// allowed by an ALLOW for "/admin" (fail closed). A prefix or suffix value
// also requires a path without ";": otherwise "/admin;.css" would pass an
// ALLOW for "*.css" and "/public/%2e%2e;/admin" one for "/public/*", and a
// servlet container would serve "/admin".
func permissivePathPerm(v string) *rbacv3.Permission {
	strict := strictPathPerm(v)
	if k, _ := parsePathValue(v); k == pathAny || k == pathExact {
		return strict
	}
	noParams := notPerm(urlPathPerm(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Contains{Contains: ";"}}))
	return andPerms([]*rbacv3.Permission{strict, noParams})
}

// restrictivePathPerm is the matcher for a path value whose match denies
// or narrows access: every variant of the value with parameters on any
// segment matches too, always in the same broad form (never only when
// some request happens to need it):
//
//	/admin/secret   ^/admin(?:;[^/]*)?/secret(?:;[^/]*)?$
//	/admin/*        ^/admin(?:;[^/]*)?/.*
//	*/x.json        ^.*/x\.json(?:;[^/]*)?$
//	*               .+ (unchanged)
//
// Literal parts are regexp.QuoteMeta'd (RE2 syntax). A regex whose RE2
// program could exceed Envoy's default limit (maxRegexProgramSize) would
// be NACKed; such a long value gets paramsSuperset instead, which needs
// no regex and matches every variant too, and also some other paths with
// ";" (fail closed).
func restrictivePathPerm(v string) *rbacv3.Permission {
	k, lit := parsePathValue(v)
	if k == pathAny {
		return strictPathPerm(v)
	}
	re, size := paramsRegex(k, lit)
	if size > maxRegexProgramSize {
		return paramsSuperset(v, k, lit)
	}
	return urlPathPerm(regexString(re))
}

// paramsRegex is the regex of restrictivePathPerm for literal lit of a
// value of kind k (not pathAny), and an upper bound of its RE2 program
// size. Measured with Envoy 1.40 (re2.max_program_size.warn_level): each
// optional parameter group costs at most 7 instructions, each literal
// byte at most 1, ".*" at most 7, and the rest 2; the bound allows 8, 1, 8
// and 4.
func paramsRegex(k pathKind, lit string) (string, int) {
	elems := strings.Split(lit, "/")
	var b strings.Builder
	size := 4 + len(lit)
	b.WriteString("^")
	if k == pathSuffix {
		b.WriteString(".*")
		size += 8
	}
	for i, e := range elems {
		if i > 0 {
			b.WriteString("/")
		}
		b.WriteString(regexp.QuoteMeta(e))
		if k == pathPrefix && i == len(elems)-1 {
			// The value ends inside this segment (or right after a
			// "/"): ".*" takes any rest, parameters included.
			b.WriteString(".*")
			size += 8
			break
		}
		// Every segment may carry parameters; the text before a value's
		// leading "/" is no segment.
		if i > 0 || e != "" {
			b.WriteString(pathParam)
			size += 8
		}
	}
	if k != pathPrefix {
		b.WriteString("$")
	}
	return b.String(), size
}

// paramsSuperset matches every path paramsRegex(k, lit) matches without a
// regex (v is the value, k and lit its parsePathValue): the strict match, or a path in which the value's text up to the
// end of some segment is followed by ";". It also matches some paths the
// regex does not ("/admin;x/other" for the exact "/admin").
func paramsSuperset(v string, k pathKind, lit string) *rbacv3.Permission {
	elems := strings.Split(lit, "/")
	last := len(elems)
	if k == pathPrefix {
		last-- // the last element is not a whole segment
	}
	or := []*rbacv3.Permission{strictPathPerm(v)}
	for i := 0; i < last; i++ {
		if i == 0 && elems[0] == "" {
			continue
		}
		head := strings.Join(elems[:i+1], "/") + ";"
		sm := &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: head}}
		if k == pathSuffix {
			sm = &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Contains{Contains: head}}
		}
		or = append(or, urlPathPerm(sm))
	}
	return orPerms(or)
}
