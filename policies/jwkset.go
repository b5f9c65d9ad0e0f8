package policies

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// placeholderHint is appended when an inline JWKS looks like the truncated
// example key printed in the user guide.
const placeholderHint = `this looks like the guide's placeholder; generate a real JWKS with "jwtgate jwk"`

// checkJWKS reports every reason why the inline JWKS text cannot verify
// tokens: not JSON, no keys, a key without its public material, a symmetric
// or private key, or a key go-jose cannot parse.
func checkJWKS(text string) []string {
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &probe); err != nil {
		return []string{fmt.Sprintf(`not valid JSON (%v); expected {"keys":[...]}`, err)}
	}
	if _, ok := probe["keys"]; !ok {
		return []string{`expected a JSON Web Key Set {"keys":[...]}, found no "keys"`}
	}
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return []string{fmt.Sprintf(`"keys" must be a list of JSON objects: %v`, err)}
	}
	if len(raw.Keys) == 0 {
		return []string{`"keys" is empty: no token could ever verify`}
	}
	var problems []string
	for i, k := range raw.Keys {
		if msg := checkJWK(k); msg != "" {
			problems = append(problems, fmt.Sprintf("key %d%s %s", i, kidNote(k), msg))
		}
	}
	return problems
}

func kidNote(k map[string]any) string {
	if kid, ok := k["kid"].(string); ok {
		return fmt.Sprintf(" (kid %q)", kid)
	}
	return ""
}

// requiredMembers lists the public members each key type must carry.
var requiredMembers = map[string][]string{
	"RSA": {"n", "e"},
	"EC":  {"crv", "x", "y"},
	"OKP": {"crv", "x"},
}

// checkJWK returns why one key is unusable, or "".
func checkJWK(k map[string]any) string {
	kty, _ := k["kty"].(string)
	if kty == "" {
		return `has no "kty" (RSA, EC or OKP)`
	}
	if kty == "oct" {
		return `is a symmetric key (kty "oct"): not supported, since anyone who can read the policy could sign tokens`
	}
	members, ok := requiredMembers[kty]
	if !ok {
		return fmt.Sprintf(`has unknown kty %q (use RSA, EC or OKP)`, kty)
	}
	for _, m := range members {
		if s, _ := k[m].(string); s == "" {
			msg := fmt.Sprintf("has no %q", m)
			if kid, _ := k["kid"].(string); strings.Contains(kid, "*") || (kty == "RSA" && m == "n") {
				msg += ": " + placeholderHint
			}
			return msg
		}
	}
	if _, ok := k["d"]; ok {
		return `contains private key material ("d"): publish only the public key`
	}
	b, _ := json.Marshal(k)
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(b); err != nil {
		return "cannot be used: " + strings.TrimPrefix(err.Error(), "go-jose/go-jose: ")
	}
	if !jwk.Valid() || !jwk.IsPublic() {
		return "is not a valid public key"
	}
	return ""
}
