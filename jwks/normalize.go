package jwks

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// signingAlgs are the JWS algorithms a fetched key may name in "alg".
var signingAlgs = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "EdDSA",
}

// Normalize parses a JSON Web Key Set fetched from an identity provider and
// returns it in canonical form: only its usable signing public keys (RSA,
// EC, Ed25519), each with only kty, its public members, kid, alg and use,
// in go-jose's fixed member order, sorted by kid and then by content, with
// duplicates removed. Equal key sets therefore give equal bytes whatever the
// provider's member order, whitespace or key order, so a refresh that
// changes nothing changes no snapshot version.
//
// Keys that cannot be used are left out: symmetric ("oct") keys, keys with
// private members (never inlined), keys for encryption (use "enc" or a
// non-signing alg), and key types or curves go-jose or Envoy do not
// support. It returns the sorted kids ("" for a key without kid) and an
// error when the document is not {"keys":[...]} or no usable key is left.
func Normalize(data []byte) (string, []string, error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return "", nil, fmt.Errorf(`not a JSON Web Key Set {"keys":[...]}: %v`, err)
	}
	if doc.Keys == nil {
		return "", nil, errors.New(`not a JSON Web Key Set: no "keys" member`)
	}
	type entry struct {
		kid  string
		json []byte
	}
	var kept []entry
	var skipped []string
	for i, raw := range *doc.Keys {
		out, kid, why := normalizeKey(raw)
		if why != "" {
			skipped = append(skipped, fmt.Sprintf("key %d: %s", i, why))
			continue
		}
		kept = append(kept, entry{kid, out})
	}
	if len(kept) == 0 {
		msg := fmt.Sprintf("no usable signing public key among %d key(s)", len(*doc.Keys))
		if len(skipped) > 0 {
			msg += " (" + strings.Join(skipped, "; ") + ")"
		}
		return "", nil, errors.New(msg)
	}
	slices.SortFunc(kept, func(a, b entry) int {
		if c := strings.Compare(a.kid, b.kid); c != 0 {
			return c
		}
		return bytes.Compare(a.json, b.json)
	})
	kept = slices.CompactFunc(kept, func(a, b entry) bool { return bytes.Equal(a.json, b.json) })
	var b bytes.Buffer
	b.WriteString(`{"keys":[`)
	kids := make([]string, len(kept))
	for i, e := range kept {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e.json)
		kids[i] = e.kid
	}
	b.WriteString(`]}`)
	return b.String(), kids, nil
}

// minRSABits is the smallest RSA modulus accepted, as in Go's crypto/rsa.
const minRSABits = 1024

// privateMembers are JWK members that only private or symmetric keys have.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}

// normalizeKey returns the canonical JSON and kid of one usable key, or
// why the key is left out.
func normalizeKey(raw json.RawMessage) ([]byte, string, string) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return nil, "", "not a JSON object"
	}
	var kty, use, alg string
	_ = json.Unmarshal(members["kty"], &kty)
	_ = json.Unmarshal(members["use"], &use)
	_ = json.Unmarshal(members["alg"], &alg)
	if kty == "oct" {
		return nil, "", `symmetric key (kty "oct")`
	}
	for _, m := range privateMembers {
		if _, ok := members[m]; ok {
			return nil, "", fmt.Sprintf("contains private key member %q", m)
		}
	}
	if use != "" && use != "sig" {
		return nil, "", fmt.Sprintf("use %q is not \"sig\"", use)
	}
	if alg != "" && !slices.Contains(signingAlgs, alg) {
		return nil, "", fmt.Sprintf("alg %q is not a supported signing algorithm", alg)
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		return nil, "", strings.TrimPrefix(err.Error(), "go-jose/go-jose: ")
	}
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		if n := key.N.BitLen(); n < minRSABits {
			return nil, "", fmt.Sprintf("RSA modulus of %d bits (at least %d required)", n, minRSABits)
		}
		if key.E < 3 || key.E%2 == 0 {
			return nil, "", fmt.Sprintf("RSA exponent %d is not an odd number >= 3", key.E)
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, "", fmt.Sprintf("unsupported key type %T", k.Key)
	}
	if !k.Valid() || !k.IsPublic() {
		return nil, "", "not a valid public key"
	}
	out, err := jose.JSONWebKey{Key: k.Key, KeyID: k.KeyID, Algorithm: k.Algorithm, Use: k.Use}.MarshalJSON()
	if err != nil {
		return nil, "", err.Error()
	}
	return out, k.KeyID, ""
}
