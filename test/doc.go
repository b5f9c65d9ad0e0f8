// Package e2e holds jwtgate's end-to-end tests: the jwtgate binary, a real
// Envoy, an in-process httpbin and real RS256 tokens, exercising every row of
// the user guide's tables (see README.md, "Walkthrough").
//
// Envoy is taken from $JWTGATE_ENVOY or <repo>/.bin/envoy (make envoy). A
// missing Envoy fails the tests; set JWTGATE_E2E=0 to skip them on purpose.
package e2e
