package translate

import (
	"regexp"
	"strings"
	"testing"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"

	"github.com/jwtgate/jwtgate/policies"
)

// evalPathPerm evaluates the permissions translate emits for paths (any,
// and/or/not rules, url_path with exact, prefix, suffix, contains and
// safe_regex) against a normalized URL path the way Envoy does: a
// safe_regex must match the whole path.
func evalPathPerm(t *testing.T, p *rbacv3.Permission, path string) bool {
	t.Helper()
	switch r := p.GetRule().(type) {
	case *rbacv3.Permission_Any:
		return r.Any
	case *rbacv3.Permission_AndRules:
		for _, c := range r.AndRules.GetRules() {
			if !evalPathPerm(t, c, path) {
				return false
			}
		}
		return true
	case *rbacv3.Permission_OrRules:
		for _, c := range r.OrRules.GetRules() {
			if evalPathPerm(t, c, path) {
				return true
			}
		}
		return false
	case *rbacv3.Permission_NotRule:
		return !evalPathPerm(t, r.NotRule, path)
	case *rbacv3.Permission_UrlPath:
		m := r.UrlPath.GetPath()
		if m.GetIgnoreCase() {
			t.Fatalf("evalPathPerm: ignore_case not expected on paths")
		}
		switch mp := m.GetMatchPattern().(type) {
		case *matcherv3.StringMatcher_Exact:
			return path == mp.Exact
		case *matcherv3.StringMatcher_Prefix:
			return strings.HasPrefix(path, mp.Prefix)
		case *matcherv3.StringMatcher_Suffix:
			return strings.HasSuffix(path, mp.Suffix)
		case *matcherv3.StringMatcher_Contains:
			return strings.Contains(path, mp.Contains)
		case *matcherv3.StringMatcher_SafeRegex:
			return regexp.MustCompile(`^(?:` + mp.SafeRegex.GetRegex() + `)$`).MatchString(path)
		}
	}
	t.Fatalf("evalPathPerm: unsupported permission %v", p)
	return false
}

// checkPathMatches reports each path of match that p (the matcher for
// value) does not match, and each path of no that it does.
func checkPathMatches(t *testing.T, p *rbacv3.Permission, value string, match, no []string) {
	t.Helper()
	for _, path := range match {
		if !evalPathPerm(t, p, path) {
			t.Errorf("%q must match %q", value, path)
		}
	}
	for _, path := range no {
		if evalPathPerm(t, p, path) {
			t.Errorf("%q must not match %q", value, path)
		}
	}
}

// TestPathUses: which positions are restrictive.
func TestPathUses(t *testing.T) {
	tests := []struct {
		action          rbacv3.RBAC_Action
		paths, notPaths pathUse
	}{
		{rbacv3.RBAC_ALLOW, pathPermissive, pathRestrictive},
		{rbacv3.RBAC_DENY, pathRestrictive, pathPermissive},
		{rbacv3.RBAC_LOG, pathRestrictive, pathPermissive}, // AUDIT, like DENY
	}
	for _, tt := range tests {
		p, n := pathUses(tt.action)
		if p != tt.paths || n != tt.notPaths {
			t.Errorf("%v: paths %v notPaths %v, want %v %v", tt.action, p, n, tt.paths, tt.notPaths)
		}
	}
}

// TestOperationPathForms checks the matcher each position gets: the broad
// regex (plus the dot-parameter guard) where a match restricts, Istio's
// matchers (prefix and suffix without ";") where a match grants.
func TestOperationPathForms(t *testing.T) {
	const dot = `{"urlPath":{"path":{"safeRegex":{"regex":".*/\\.\\.?;.*"}}}}`
	re := func(r string) string {
		return `{"urlPath":{"path":{"safeRegex":{"regex":"` + strings.ReplaceAll(r, `\`, `\\`) + `"}}}}`
	}
	noSemi := `{"notRule":{"urlPath":{"path":{"contains":";"}}}}`
	or := func(a ...string) string { return `{"orRules":{"rules":[` + strings.Join(a, ",") + `]}}` }
	and := func(a ...string) string { return `{"andRules":{"rules":[` + strings.Join(a, ",") + `]}}` }
	not := func(a string) string { return `{"notRule":` + a + `}` }
	tests := []struct {
		name   string
		action rbacv3.RBAC_Action
		op     policies.Operation
		want   string
	}{
		{"DENY paths exact", rbacv3.RBAC_DENY, policies.Operation{Paths: []string{"/admin/secret"}},
			or(re(`^/admin(?:;[^/]*)?/secret(?:;[^/]*)?$`), dot)},
		{"DENY paths prefix+suffix", rbacv3.RBAC_DENY, policies.Operation{Paths: []string{"/admin/*", "*/x.json"}},
			or(re(`^/admin(?:;[^/]*)?/.*`), re(`^.*/x\.json(?:;[^/]*)?$`), dot)},
		{"AUDIT paths exact", rbacv3.RBAC_LOG, policies.Operation{Paths: []string{"/a"}},
			or(re(`^/a(?:;[^/]*)?$`), dot)},
		{"DENY paths *", rbacv3.RBAC_DENY, policies.Operation{Paths: []string{"*"}},
			`{"urlPath":{"path":{"safeRegex":{"regex":".+"}}}}`},
		{"ALLOW notPaths exact", rbacv3.RBAC_ALLOW, policies.Operation{NotPaths: []string{"/admin"}},
			not(or(re(`^/admin(?:;[^/]*)?$`), dot))},
		{"ALLOW paths exact (strict)", rbacv3.RBAC_ALLOW, policies.Operation{Paths: []string{"/admin"}},
			`{"urlPath":{"path":{"exact":"/admin"}}}`},
		{"ALLOW paths prefix, suffix, *", rbacv3.RBAC_ALLOW, policies.Operation{Paths: []string{"/public/*", "*.css", "*"}},
			or(and(`{"urlPath":{"path":{"prefix":"/public/"}}}`, noSemi), and(`{"urlPath":{"path":{"suffix":".css"}}}`, noSemi),
				`{"urlPath":{"path":{"safeRegex":{"regex":".+"}}}}`)},
		{"DENY notPaths exact (strict)", rbacv3.RBAC_DENY, policies.Operation{NotPaths: []string{"/ok"}},
			not(`{"urlPath":{"path":{"exact":"/ok"}}}`)},
		{"DENY notPaths prefix", rbacv3.RBAC_DENY, policies.Operation{NotPaths: []string{"/ok/*"}},
			not(and(`{"urlPath":{"path":{"prefix":"/ok/"}}}`, noSemi))},
		{"methods unchanged, paths last", rbacv3.RBAC_DENY, policies.Operation{Methods: []string{"GET"}, Paths: []string{"/a"}},
			and(`{"header":{"name":":method","stringMatch":{"exact":"GET"}}}`, or(re(`^/a(?:;[^/]*)?$`), dot))},
	}
	for _, tt := range tests {
		p, err := operationPermission(tt.op, tt.action)
		if err != nil {
			t.Fatal(err)
		}
		if got := compact(t, p); got != tt.want {
			t.Errorf("%s:\n got  %s\n want %s", tt.name, got, tt.want)
		}
	}
}

// TestRestrictivePathMatches: a restrictive matcher matches every variant
// with parameters, and no neighbour.
func TestRestrictivePathMatches(t *testing.T) {
	tests := []struct {
		value     string
		match, no []string
	}{
		{"/admin",
			[]string{"/admin", "/admin;x=1", "/admin;", "/admin;a;b", "/admin;jsessionid=1"},
			[]string{"/adminx", "/admin/", "/admin/x", "/admin;x/y", "/x/admin", "/Admin", "/admi", "/admin%3Bx"}},
		{"/admin/secret",
			[]string{"/admin/secret", "/admin;x/secret", "/admin/secret;y", "/admin;/secret;", "/admin;a=1;b=2/secret;c"},
			[]string{"/admin2/secret", "/adminx/secret", "/admin/secretx", "/admin/x/secret", "/admin/secret/", "/admin", "/admin;x"}},
		{"/private/*",
			[]string{"/private/", "/private/x", "/private;a/x", "/private/x;y", "/private;/", "/private/a/b;c/d"},
			[]string{"/private", "/private;a", "/privatex/y", "/x/private/y", "/privat/e"}},
		{"/api*", // prefix ending inside a segment: the rest may hold ";"
			[]string{"/api", "/apix", "/api;v=1", "/api;v=1/x", "/apis/x"},
			[]string{"/ap", "/x/api"}},
		{"*/x.json",
			[]string{"/x.json", "/a/x.json", "/a;b/x.json", "/a/x.json;v=1", "/x.json;"},
			[]string{"/a/xx.json", "/x.json/", "/a/x.jsonx", "/x.json/b", "/axjson"}},
		{"*.json",
			[]string{"/a.json", "/a.json;v"},
			[]string{"/a.jsonx", "/ajson", "/a.json/"}},
		{"/a.b+c[d]", // regex metacharacters are literal
			[]string{"/a.b+c[d]", "/a.b+c[d];x"},
			[]string{"/aXb+c[d]", "/a.bbc[d]", "/a.b+cd"}},
	}
	for _, tt := range tests {
		p := restrictivePathPerm(tt.value)
		checkPathMatches(t, p, tt.value, tt.match, tt.no)
	}
}

// TestPermissivePathMatches: a permissive matcher is Istio's matcher and
// never matches a path a servlet container would read as another path.
func TestPermissivePathMatches(t *testing.T) {
	tests := []struct {
		value     string
		match, no []string
	}{
		{"/healthz", []string{"/healthz"}, []string{"/healthz;x", "/healthz/", "/healthzx"}},
		{"/public/*", []string{"/public/", "/public/a/b"},
			[]string{"/public/x;jsessionid=1", "/public/..;/admin", "/public/.;/x", "/public;x/y", "/public"}},
		{"*.css", []string{"/a.css", "/x/y.css"}, []string{"/admin;.css", "/admin;x/a.css", "/a.cssx"}},
		{"*", []string{"/", "/a;b"}, nil},
	}
	for _, tt := range tests {
		p := permissivePathPerm(tt.value)
		checkPathMatches(t, p, tt.value, tt.match, tt.no)
	}
}

// TestRulePathParams evaluates whole rules the way the rbac filters use
// them: a DENY for /admin and /private/* denies the parameter variants and
// "." / ".." segments with parameters, an ALLOW of everything but /admin
// does not allow /admin;x.
func TestRulePathParams(t *testing.T) {
	deny := policies.Operation{Paths: []string{"/admin", "/private/*"}}
	allowButAdmin := policies.Operation{NotPaths: []string{"/admin"}}
	tests := []struct {
		name   string
		action rbacv3.RBAC_Action
		op     policies.Operation
		path   string
		want   bool // the operation matches
	}{
		{"deny /admin", rbacv3.RBAC_DENY, deny, "/admin", true},
		{"deny /admin;x=1", rbacv3.RBAC_DENY, deny, "/admin;x=1", true},
		{"deny /admin;", rbacv3.RBAC_DENY, deny, "/admin;", true},
		{"deny /private;a/x", rbacv3.RBAC_DENY, deny, "/private;a/x", true},
		{"deny /private/x;y", rbacv3.RBAC_DENY, deny, "/private/x;y", true},
		{"deny encoded dots with params", rbacv3.RBAC_DENY, deny, "/x/..;/admin", true},
		{"deny . with params", rbacv3.RBAC_DENY, deny, "/.;/admin", true},
		{"not /adminx", rbacv3.RBAC_DENY, deny, "/adminx", false},
		{"not /anything/admin", rbacv3.RBAC_DENY, deny, "/anything/admin", false},
		{"not /privatex/y", rbacv3.RBAC_DENY, deny, "/privatex/y", false},
		{"not a ; elsewhere", rbacv3.RBAC_DENY, deny, "/get;x", false},
		{"allow-but-admin /get", rbacv3.RBAC_ALLOW, allowButAdmin, "/get", true},
		{"allow-but-admin /admin", rbacv3.RBAC_ALLOW, allowButAdmin, "/admin", false},
		{"allow-but-admin /admin;x", rbacv3.RBAC_ALLOW, allowButAdmin, "/admin;x", false},
		{"allow-but-admin /a/..;/admin", rbacv3.RBAC_ALLOW, allowButAdmin, "/a/..;/admin", false},
		{"allow-but-admin /adminx", rbacv3.RBAC_ALLOW, allowButAdmin, "/adminx", true},
	}
	for _, tt := range tests {
		p, err := operationPermission(tt.op, tt.action)
		if err != nil {
			t.Fatal(err)
		}
		if got := evalPathPerm(t, p, tt.path); got != tt.want {
			t.Errorf("%s (%s): match = %v, want %v", tt.name, tt.path, got, tt.want)
		}
	}
}

// TestRestrictiveLongPathSuperset: a value whose regex could exceed
// Envoy's RE2 program size limit gets the regex-free superset, which still
// matches every variant (and no neighbour without ";").
func TestRestrictiveLongPathSuperset(t *testing.T) {
	segs := []string{"organizations", "internal", "administration", "billing", "accounts", "export", "all"}
	long := "/" + strings.Join(segs, "/")
	for _, k := range []pathKind{pathExact, pathPrefix, pathSuffix} {
		if _, size := paramsRegex(k, long); size <= maxRegexProgramSize {
			t.Fatalf("kind %d: test value too short (size bound %d)", k, size)
		}
	}
	if _, size := paramsRegex(pathExact, "/admin/secret"); size > maxRegexProgramSize {
		t.Fatalf("a short value must get the regex (bound %d)", size)
	}
	tests := []struct {
		value     string
		match, no []string
	}{
		{long,
			[]string{long, long + ";x", "/organizations;a/internal/administration/billing/accounts/export/all",
				"/organizations/internal/administration;b/billing/accounts/export;c/all"},
			[]string{long + "x", long + "/", "/organizations/internal/administration/billing/accounts/export"}},
		{long + "/*",
			[]string{long + "/x", "/organizations;a/internal/administration/billing/accounts/export/all;b/x"},
			[]string{long, long + "x/y"}},
		{"*" + long,
			[]string{"/x" + long, long + ";v", "/x/organizations;a/internal/administration/billing/accounts/export/all"},
			[]string{long + "x", "/xorganizations/internal/administration/billing/accounts/export/all/y"}},
	}
	for _, tt := range tests {
		p := restrictivePathPerm(tt.value)
		if strings.Contains(compact(t, p), "safeRegex") {
			t.Errorf("%q: superset must not use a regex: %s", tt.value, compact(t, p))
		}
		checkPathMatches(t, p, tt.value, tt.match, tt.no)
	}
}

// TestParamsSupersetCoversRegex: for every value, each path the regex
// matches is matched by the superset too (so the fallback never opens
// what the regex closes).
func TestParamsSupersetCoversRegex(t *testing.T) {
	values := []string{"/admin", "/admin/secret", "/a/b/*", "/a/bc*", "*/x.json", "*.json", "*a/b", "/", "/a/"}
	paths := []string{"/", "/;x", "/admin", "/admin;x", "/admin/secret", "/admin;a/secret;b", "/a/b/c", "/a;x/b;y/c",
		"/a/bcd", "/a;x/bcd;y/e", "/q/x.json", "/q;z/x.json;v", "/q.json;v", "/qa/b", "/qa;x/b;y", "/a/", "/a;x/;y"}
	for _, v := range values {
		k, lit := parsePathValue(v)
		re, _ := paramsRegex(k, lit)
		regexPerm := urlPathPerm(regexString(re))
		superset := paramsSuperset(v, k, lit)
		for _, p := range paths {
			if evalPathPerm(t, regexPerm, p) && !evalPathPerm(t, superset, p) {
				t.Errorf("%q: regex %s matches %q, the superset does not", v, re, p)
			}
		}
	}
}
