package e2e

import (
	"fmt"
	"strings"
)

// The documents below are written for the security cases; the guide's own
// files come from examples/ through render.

// issuerB is the second issuer of the security cases; its tokens must carry
// audienceB.
const (
	issuerB   = "https://b.example.com"
	audienceB = "api.example.com"
)

// requestAuthn is a RequestAuthentication for the ingress gateway named
// name, with the given jwtRules (each a YAML list item, see jwtRule).
func requestAuthn(name string, rules ...string) string {
	return fmt.Sprintf(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: %s
  namespace: istio-system
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  jwtRules:
%s`, name, strings.Join(rules, ""))
}

// jwtRule is one jwtRules item with an inline JWKS; extra holds further
// fields of the rule, one per line, without indentation.
func jwtRule(issuer, jwks string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "    - issuer: %q\n      jwks: '%s'\n", issuer, jwks)
	for _, e := range extra {
		for _, l := range strings.Split(e, "\n") {
			fmt.Fprintf(&b, "      %s\n", l)
		}
	}
	return b.String()
}

// authzPolicy is an AuthorizationPolicy in the root namespace (so it applies
// to every gateway) with the given action and rules (YAML, indented for
// spec.rules); dryRun adds the istio.io/dry-run annotation.
func authzPolicy(name, action string, dryRun bool, rules string) string {
	annotations := ""
	if dryRun {
		annotations = "  annotations:\n    istio.io/dry-run: \"true\"\n"
	}
	return fmt.Sprintf(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: %s
  namespace: istio-system
%sspec:
  action: %s
  rules:
%s`, name, annotations, action, rules)
}
