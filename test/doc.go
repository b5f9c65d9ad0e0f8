// Package e2e holds jwtgate's end-to-end tests: the jwtgate binary, a real
// Envoy, an in-process httpbin and real RS256 tokens, exercising every row of
// the user guide's tables (see README.md, "Walkthrough"), the security cases
// beyond the guide (audiences, several issuers, token locations, DENY over
// ALLOW, dry-run, claims in `when`, forged identity headers), file changes
// that pass through an intermediate state (cp over a file, a checkout)
// without the gate ever opening, and every translate golden output through
// `envoy --mode validate`.
//
// Envoy is taken from $JWTGATE_ENVOY or <repo>/.bin/envoy (make envoy). A
// missing Envoy fails the tests; set JWTGATE_E2E=0 to skip them on purpose.
package e2e
