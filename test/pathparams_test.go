package e2e

import (
	"testing"
)

// TestPathParams checks path parameters (";") against path rules with the
// real Envoy: Java servlet containers serve "/admin;x=1" as "/admin", so a
// DENY for "/admin" must deny it, and an ALLOW of everything but "/admin"
// must not allow it, while neighbours such as "/adminx" stay untouched.
// "%2e%2e;" segments (Envoy decodes the dots only after resolving dot
// segments, so "/x/%2e%2e;/admin" reaches a servlet container as
// "/x/..;/admin", i.e. "/admin") are denied wherever a path restricts, and
// a prefix or suffix ALLOW does not admit a path with ";".
func TestPathParams(t *testing.T) {
	s, tok := newGuideStack(t, "envoy-local.yaml")
	auth := bearer(tok)
	denied := func(path, auth string) row {
		return row{name: "rbac denies", path: path, auth: auth, want: 403, bodyContains: "RBAC: access denied", noChallenge: true}
	}

	s.coldStart("guide 00+10+20 (cold start)",
		row{name: "valid JWT", path: "/get", auth: auth, want: 200},
		passes("/admin;x=1", auth), // no DENY yet
	)
	s.waitReady()

	// DENY paths [/admin, /private/*] with the guide's require-jwt ALLOW.
	s.apply("deny /admin and /private/*", func() {
		s.writePolicy("30-deny.yaml", authzPolicy("deny-admin", "DENY", false, `    - to:
        - operation:
            paths: ["/admin", "/private/*"]
`))
	},
		denied("/admin", auth),
		denied("/admin;x=1", auth),
		denied("/admin;", auth),
		denied("/admin;a=1;b=2", auth),
		denied("/private/x", auth),
		denied("/private;a/x", auth),
		denied("/private/x;y", auth),
		denied("/private;/x;y/z", auth),
		denied("/x/..;/admin", auth),     // normalize_path: /admin
		denied("/x/%2e%2e;/admin", auth), // reaches rbac as /x/..;/admin
		denied("/x/.%2e;/admin", auth),
		denied("/anything/%2e%2e;/get", auth), // a dot segment with parameters, wherever it leads
		passes("/adminx", auth),
		passes("/admin/x", auth),
		passes("/anything/admin", auth),
		passes("/anything/admin;x", auth),
		passes("/privatex/y", auth),
		row{name: "valid JWT", path: "/get", auth: auth, want: 200},
		row{name: "no JWT (required)", path: "/get", want: 401, challengePrefix: "Bearer realm="},
	)

	// ALLOW everything but /admin, without a token: the restrictive
	// notPaths also covers /admin;x.
	s.apply("allow all but /admin", func() {
		s.writePolicy("20-require-jwt.yaml", authzPolicy("require-jwt", "ALLOW", false, `    - to:
        - operation:
            notPaths: ["/admin"]
`))
		s.removePolicy("30-deny.yaml")
	},
		row{name: "tokenless /get", path: "/get", want: 200},
		denied("/admin", ""),
		denied("/admin;x", ""),
		denied("/admin;x=1;y", ""),
		denied("/anything/%2e%2e;/admin", ""),
		passes("/adminx", ""),
		passes("/anything/admin;x", ""),
	)

	// A prefix or suffix ALLOW grants no path with ";": "/admin;.css" is
	// "/admin" to a servlet container, "/anything/%2e%2e;/admin" too.
	s.apply("allow /anything/* and *.css", func() {
		s.writePolicy("20-require-jwt.yaml", authzPolicy("require-jwt", "ALLOW", false, `    - to:
        - operation:
            paths: ["/anything/*", "*.css", "/get"]
`))
	},
		row{name: "tokenless /anything/x", path: "/anything/x", want: 200},
		row{name: "tokenless exact /get", path: "/get", want: 200},
		passes("/static/site.css", ""),
		denied("/get;x", ""),
		denied("/anything/x;jsessionid=1", ""),
		denied("/anything/%2e%2e;/admin", ""),
		denied("/admin;.css", ""),
		denied("/admin;x/site.css", ""),
		denied("/admin", ""),
	)
	s.assertNoNACKs()
	s.logLatencies("pathparams")
}

// passes is a request the gateway lets through to httpbin, whatever httpbin
// answers (e.g. 404 for a path it does not serve): anything but a 401 or
// 403.
func passes(path, auth string) row {
	var codes []int
	for c := 200; c < 600; c++ {
		if c != 401 && c != 403 {
			codes = append(codes, c)
		}
	}
	return row{name: "passes the gateway", path: path, auth: auth, oneOf: codes, bodyLacks: "RBAC: access denied"}
}
