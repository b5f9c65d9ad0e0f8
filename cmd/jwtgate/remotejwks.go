package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/jwtgate/jwtgate/jwks"
	"github.com/jwtgate/jwtgate/policies"
)

// Values of --jwks-fetcher: who fetches the keys of a jwksUri.
const (
	fetcherJWTGate = "jwtgate" // jwtgate fetches and inlines them (default)
	fetcherEnvoy   = "envoy"   // Envoy fetches them itself (remote_jwks)
)

// envoyFetches reads --jwks-fetcher: true for "envoy", false for
// "jwtgate"; anything else is a usage error.
func (a *app) envoyFetches() (bool, error) {
	switch f := strings.TrimSpace(a.str("jwks-fetcher")); f {
	case fetcherJWTGate, "":
		return false, nil
	case fetcherEnvoy:
		return true, nil
	default:
		return false, usageErr("--jwks-fetcher %q: want %s or %s", f, fetcherJWTGate, fetcherEnvoy)
	}
}

// keyTargets is what jwtgate itself fetches for set: every key URL
// (jwks.Targets), or, when Envoy fetches jwksUri keys, only the OIDC
// discovery URLs of rules without jwksUri (Envoy cannot do discovery).
func keyTargets(set *policies.Set, envoyFetches bool) []jwks.Target {
	all := jwks.Targets(set)
	if !envoyFetches {
		return all
	}
	return slices.DeleteFunc(all, func(t jwks.Target) bool { return !t.Discovery })
}

// remoteKeyProblems lists, as "file:line: spec.jwtRules[i].jwksUri: msg"
// in file and line order, every jwksUri that Envoy would fetch with
// --jwks-fetcher envoy but jwtgate's SSRF guard refuses already from the
// URL (a metadata host name, a literal link-local, metadata, unspecified,
// broadcast or multicast address). Envoy has no such guard, so such a set
// is rejected instead of being pushed. Host names resolving to refused
// addresses cannot be seen here.
func remoteKeyProblems(set *policies.Set) []string {
	if set == nil {
		return nil
	}
	ras := slices.Clone(set.RequestAuthentications)
	slices.SortStableFunc(ras, func(x, y *policies.RequestAuthentication) int {
		return cmp.Or(strings.Compare(x.Origin.File, y.Origin.File), cmp.Compare(x.Origin.Line, y.Origin.Line))
	})
	var out []string
	for _, ra := range ras {
		for i, r := range ra.Spec.JWTRules {
			if r.Jwks != "" || r.JwksURI == "" {
				continue
			}
			if err := jwks.CheckURL(r.JwksURI); err != nil {
				where := ra.Origin.File
				if ra.Origin.Line > 0 {
					where = fmt.Sprintf("%s:%d", where, ra.Origin.Line)
				}
				out = append(out, fmt.Sprintf("%s: spec.jwtRules[%d].jwksUri: %v; with --jwks-fetcher %s Envoy would fetch it without jwtgate's SSRF guard",
					where, i, err, fetcherEnvoy))
			}
		}
	}
	return out
}
