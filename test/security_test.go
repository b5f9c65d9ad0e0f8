package e2e

import (
	"strconv"
	"strings"
	"testing"
)

// secTokens are the tokens of the security cases.
type secTokens struct {
	a, aSub      string // issuer A; aSub also has sub demo@asm.test.io
	bAud, bOther string // issuer B with aud api.example.com / another aud
	unknownIss   string // an issuer no rule names, signed by A's key
	groupsAdmin  string // issuer A, groups ["admin","dev"]
	groupsDev    string // issuer A, groups ["dev"]
	jwksA, jwksB string
}

// mintSecTokens generates both issuers' keys (at test time: no private key
// is kept in git) and signs the tokens with the real binary.
func mintSecTokens(t *testing.T, bin, dir string) secTokens {
	t.Helper()
	ka := newKeyPair(t, dir, "issuer-a", false)
	kb := newKeyPair(t, dir, "issuer-b", false)
	tok := func(k keyPair, args ...string) string { return token(t, bin, k, args...) }
	return secTokens{
		a:           tok(ka, "--iss", issuer),
		aSub:        tok(ka, "--iss", issuer, "--sub", subject),
		bAud:        tok(kb, "--iss", issuerB, "--sub", "someone", "--aud", audienceB),
		bOther:      tok(kb, "--iss", issuerB, "--sub", "someone", "--aud", "wrong.example.com"),
		unknownIss:  tok(ka, "--iss", "https://unknown.example.com"),
		groupsAdmin: tok(ka, "--iss", issuer, "--sub", subject, "--claim", `groups=["admin","dev"]`),
		groupsDev:   tok(ka, "--iss", issuer, "--sub", subject, "--claim", `groups=["dev"]`),
		jwksA:       jwksFor(t, bin, ka),
		jwksB:       jwksFor(t, bin, kb),
	}
}

// TestSecurityCases runs the cases that go beyond the guide against one
// jwtgate and one Envoy: audiences, two issuers, a token in a custom
// header, DENY over ALLOW, dry-run, a `when` on a list claim, and
// client-supplied identity headers. Each step is a file change and names
// at least one request whose answer differs from the step before, so a
// step cannot pass on the previous configuration.
func TestSecurityCases(t *testing.T) {
	s := newStack(t)
	tk := mintSecTokens(t, s.bin, s.dir)

	ruleA := jwtRule(issuer, tk.jwksA)
	ruleB := jwtRule(issuerB, tk.jwksB, "audiences: ["+audienceB+"]")
	bothIssuers := requestAuthn("jwt", ruleA, ruleB)
	requireJWT := authzPolicy("require-jwt", "ALLOW", false, `    - from:
        - source:
            requestPrincipals: ["*"]
`)
	denyDelete := func(dryRun bool) string {
		return authzPolicy("deny-delete", "DENY", dryRun, `    - to:
        - operation:
            methods: ["DELETE"]
`)
	}

	// Answers fixed by DESIGN.md ("Responses").
	const invalid = `error="invalid_token"`
	ok := func(name, auth string) row { return row{name: name, auth: auth, want: 200} }
	missing := func(name string, r row) row { // no usable token, authorization needs one
		r.name, r.want, r.challengePrefix, r.challengeLacks = name, 401, "Bearer realm=", "error="
		return r
	}
	badToken := func(name string, r row) row {
		r.name, r.want, r.challengePrefix, r.challengeContains = name, 401, "Bearer realm=", invalid
		return r
	}
	rbacDenied := func(name string, r row) row {
		r.name, r.want, r.bodyContains, r.noChallenge = name, 403, "RBAC: access denied", true
		return r
	}

	s.writeExample("00-gateway.yaml", "")
	s.writePolicy("10-jwt.yaml", bothIssuers)
	s.writePolicy("20-authz.yaml", requireJWT)
	s.serve("envoy-local.yaml")

	// Two issuers, B with an audience: either issuer's token passes, an
	// unknown issuer gets 401, B's token for another audience gets Envoy's
	// 403 from jwt_authn.
	s.coldStart("two issuers, audiences (cold start)",
		ok("issuer A", bearer(tk.a)),
		ok("issuer B, matching aud", bearer(tk.bAud)),
		row{name: "issuer A in ?access_token=", path: "/get?access_token=" + tk.a, want: 200},
		row{name: "issuer B, other aud", auth: bearer(tk.bOther), want: 403,
			challengeContains: invalid, bodyContains: "Audiences in Jwt are not allowed"},
		badToken("unknown issuer", row{auth: bearer(tk.unknownIss)}),
		missing("no JWT", row{}),
	)
	s.waitReady()
	apply := s.apply

	// fromHeaders replaces the default locations: the Authorization header
	// and ?access_token= are not read at all (a token there counts as
	// missing, even an invalid one).
	apply("from-header", func() {
		s.writePolicy("10-jwt.yaml", requestAuthn("jwt",
			jwtRule(issuer, tk.jwksA, "fromHeaders:\n  - name: x-jwt-assertion")))
	},
		row{name: "token in x-jwt-assertion", header: []string{"x-jwt-assertion: " + tk.a}, want: 200},
		badToken("invalid token in x-jwt-assertion", row{header: []string{"x-jwt-assertion: invalidToken"}}),
		missing("valid token in Authorization (not read)", row{auth: bearer(tk.a)}),
		missing("invalid token in Authorization (not read)", row{auth: "Bearer invalidToken"}),
		missing("valid token in ?access_token= (not read)", row{path: "/get?access_token=" + tk.a}),
	)

	// DENY runs before ALLOW: the principal the ALLOW admits is denied on
	// /admin; another principal passes the gateway there (httpbin: 404).
	apply("deny-over-allow", func() {
		s.writePolicy("10-jwt.yaml", bothIssuers)
		s.writePolicy("30-deny-admin.yaml", authzPolicy("deny-admin", "DENY", false, `    - from:
        - source:
            requestPrincipals: ["`+issuer+`/`+subject+`"]
      to:
        - operation:
            paths: ["/admin", "/admin/*"]
`))
	},
		rbacDenied("denied principal on /admin", row{path: "/admin", auth: bearer(tk.aSub)}),
		rbacDenied("denied principal on /admin/x", row{path: "/admin/x", auth: bearer(tk.aSub)}),
		rbacDenied("denied principal on /admin?x=1", row{path: "/admin?x=1", auth: bearer(tk.aSub)}),
		row{name: "denied principal on /get", path: "/get", auth: bearer(tk.aSub), want: 200},
		row{name: "other principal on /admin (passes, httpbin 404)", path: "/admin", auth: bearer(tk.a), want: 404},
		missing("no JWT on /admin", row{path: "/admin"}),
	)

	// An enforced DENY on DELETE, then the same policy as a dry run: it no
	// longer denies, but Envoy evaluates it as shadow rules.
	apply("deny-delete", func() {
		s.writePolicy("40-deny-delete.yaml", denyDelete(false))
	},
		rbacDenied("DELETE with a valid token", row{method: "DELETE", path: "/delete", auth: bearer(tk.a)}),
		ok("GET with a valid token", bearer(tk.a)),
	)
	apply("dry-run-deny", func() {
		s.writePolicy("40-deny-delete.yaml", denyDelete(true))
	},
		row{name: "DELETE with a valid token (dry-run DENY)", method: "DELETE", path: "/delete", auth: bearer(tk.a), want: 200},
		missing("no JWT (ALLOW still enforced)", row{}),
	)
	if n := s.statSum("shadow_denied"); n == 0 {
		t.Errorf("Envoy counted no shadow denial: the dry-run DENY is not evaluated")
	}

	// `when` on a list claim: any element may match. A valid token the
	// policy does not admit gets 403 RBAC: access denied.
	apply("when-groups", func() {
		s.removePolicy("30-deny-admin.yaml")
		s.removePolicy("40-deny-delete.yaml")
		s.writePolicy("20-authz.yaml", authzPolicy("admins", "ALLOW", false, `    - when:
        - key: request.auth.claims[groups]
          values: ["admin"]
`))
	},
		ok(`groups ["admin","dev"]`, bearer(tk.groupsAdmin)),
		rbacDenied(`groups ["dev"]`, row{auth: bearer(tk.groupsDev)}),
		rbacDenied("valid token without groups", row{auth: bearer(tk.aSub)}),
		rbacDenied("issuer B token without groups", row{auth: bearer(tk.bAud)}),
		missing("no JWT", row{}),
	)

	// Identity headers that jwt_authn writes must not be forgeable: without
	// a token the client's x-jwt-sub / x-jwt-payload never reach the
	// backend, with a token they hold the token's values only.
	// x-unrelated is the control: a header jwt_authn does not write passes.
	spoof := []string{"x-jwt-sub: admin", "x-jwt-payload: forged", "x-unrelated: kept"}
	apply("spoofed-identity-headers", func() {
		s.removePolicy("20-authz.yaml")
		s.writePolicy("10-jwt.yaml", requestAuthn("jwt",
			jwtRule(issuer, tk.jwksA,
				"outputClaimToHeaders:\n  - header: x-jwt-sub\n    claim: sub",
				"outputPayloadToHeader: x-jwt-payload"),
			ruleB))
	},
		row{name: "no JWT, forged identity headers", path: "/headers", header: spoof, want: 200,
			verify: all(backendLacks("x-jwt-sub", "x-jwt-payload"), backendGot("x-unrelated", "kept"))},
		row{name: "JWT with sub, forged identity headers", path: "/headers", header: spoof, auth: bearer(tk.aSub), want: 200,
			verify: all(backendGot("x-jwt-sub", subject), backendGotPayload("x-jwt-payload", subject))},
		row{name: "JWT without sub, forged identity headers", path: "/headers", header: spoof, auth: bearer(tk.a), want: 200,
			verify: backendLacks("x-jwt-sub")},
		row{name: "other issuer's JWT, forged identity headers", path: "/headers", header: spoof, auth: bearer(tk.bAud), want: 200,
			verify: backendLacks("x-jwt-sub", "x-jwt-payload")},
	)

	s.assertNoNACKs()
	s.logLatencies("security")
}

// statSum is the sum of Envoy's counters whose name contains filter.
func (s *stack) statSum(filter string) int {
	s.t.Helper()
	sum := 0
	for _, line := range strings.Split(s.get("http://"+hostPort(s.adminPort)+"/stats?filter="+filter), "\n") {
		name, value, ok := strings.Cut(line, ": ")
		if !ok || !strings.Contains(name, filter) {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(value)); err == nil {
			sum += n
		}
	}
	return sum
}
