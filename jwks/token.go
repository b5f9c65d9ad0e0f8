package jwks

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// TokenOptions describe the JWT that Sign produces.
type TokenOptions struct {
	Issuer    string   // iss, required
	Subject   string   // sub, omitted when empty
	Audiences []string // aud: a string for one, an array for several
	// ExpiresIn sets exp = now + ExpiresIn. Zero means no exp claim; a
	// negative value gives an already expired token.
	ExpiresIn time.Duration
	// Claims are extra claims, applied last (they may override the above).
	Claims map[string]any
	// KeyID overrides the kid header (default: the key's RFC 7638 thumbprint).
	KeyID string
	// Now is the issue time; zero means time.Now().
	Now time.Time
}

// ParsePrivateKey reads the first private key in PEM data: PKCS#1 "RSA
// PRIVATE KEY", PKCS#8 "PRIVATE KEY" or SEC 1 "EC PRIVATE KEY".
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM-encoded private key found")
		}
		switch block.Type {
		case "RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY":
			return parsePrivateBlock(block)
		}
	}
}

func parsePrivateBlock(block *pem.Block) (crypto.Signer, error) {
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("unsupported private key type %T (want RSA or ECDSA)", key)
}

// Sign returns a compact JWT signed with key (RS256 for RSA, ES256/384/512
// for ECDSA) with header typ JWT and kid.
func Sign(key crypto.Signer, opts TokenOptions) (string, error) {
	if opts.Issuer == "" {
		return "", errors.New("issuer is required")
	}
	pub, err := FromPublicKey(key.Public())
	if err != nil {
		return "", err
	}
	kid := pub.Kid
	if opts.KeyID != "" {
		kid = opts.KeyID
	}
	payload, err := json.Marshal(Claims(opts)) // map keys are sorted: stable output
	if err != nil {
		return "", err
	}
	so := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(pub.Alg), Key: key}, so)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// Claims returns the claim set Sign would encode for opts.
func Claims(opts TokenOptions) map[string]any {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	c := map[string]any{"iss": opts.Issuer, "iat": now.Unix()}
	if opts.Subject != "" {
		c["sub"] = opts.Subject
	}
	switch len(opts.Audiences) {
	case 0:
	case 1:
		c["aud"] = opts.Audiences[0]
	default:
		c["aud"] = append([]string(nil), opts.Audiences...)
	}
	if opts.ExpiresIn != 0 {
		c["exp"] = now.Add(opts.ExpiresIn).Unix()
	}
	for k, v := range opts.Claims {
		c[k] = v
	}
	return c
}

// SetClaim applies one "key=value" assignment to claims. The value is
// decoded as JSON when it is valid JSON (numbers, booleans, arrays,
// objects, quoted strings), else taken as a plain string. A dotted key
// "a.b" sets a nested object member; write "\." for a literal dot.
func SetClaim(claims map[string]any, assignment string) error {
	key, raw, ok := strings.Cut(assignment, "=")
	if !ok || key == "" {
		return fmt.Errorf("claim %q: want key=value", assignment)
	}
	path := splitPath(key)
	for _, p := range path {
		if p == "" {
			return fmt.Errorf("claim %q: empty name in key path", assignment)
		}
	}
	m := claims
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			if _, exists := m[p]; exists {
				return fmt.Errorf("claim %q: %q is not an object", assignment, p)
			}
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = parseValue(raw)
	return nil
}

func splitPath(key string) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(key); i++ {
		switch {
		case key[i] == '\\' && i+1 < len(key) && key[i+1] == '.':
			cur.WriteByte('.')
			i++
		case key[i] == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(key[i])
		}
	}
	return append(parts, cur.String())
}

func parseValue(raw string) any {
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.UseNumber() // keep big integers exact
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return raw
	}
	if _, err := dec.Token(); err == nil {
		return raw // trailing data: not one JSON value
	}
	return v
}

// Verify checks a compact JWS against a JWKS (by kid, or every key when the
// token has none) and returns its decoded claims. It does not check exp,
// iss or aud; it is a helper for tests and tooling, not a validator.
func Verify(token string, jwksJSON []byte) (map[string]any, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwksJSON, &set); err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{
		jose.RS256, jose.ES256, jose.ES384, jose.ES512})
	if err != nil {
		return nil, err
	}
	keys := set.Keys
	if kid := jws.Signatures[0].Header.KeyID; kid != "" {
		keys = set.Key(kid)
	}
	for _, k := range keys {
		payload, err := jws.Verify(k.Key)
		if err != nil {
			continue
		}
		claims := map[string]any{}
		if err := json.Unmarshal(payload, &claims); err != nil {
			return nil, err
		}
		return claims, nil
	}
	return nil, errors.New("no key in the JWKS verifies the token")
}
