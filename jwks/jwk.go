// Package jwks converts PEM keys into JSON Web Key Sets and signs test
// tokens with them (key IDs are RFC 7638 thumbprints, so the same key always
// gets the same kid), provides the fail-closed JWKS, and fetches the keys
// of jwksUri and OIDC discovery URLs (Fetcher).
package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
)

// JWK is one public JSON Web Key. The field order is fixed so output is
// stable; only the members of the key's type are set.
type JWK struct {
	Kty string `json:"kty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Kid string `json:"kid,omitempty"`
	// RSA members.
	N string `json:"n,omitempty"`
	E string `json:"e,omitempty"`
	// EC members.
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// Set is a JSON Web Key Set.
type Set struct {
	Keys []JWK `json:"keys"`
}

var b64 = base64.RawURLEncoding

// ParsePublicKeys returns the public key of every key block in PEM data:
// PKIX "PUBLIC KEY", PKCS#1 "RSA PUBLIC KEY", and private keys (PKCS#1,
// PKCS#8, SEC 1 "EC PRIVATE KEY"), of which only the public half is kept.
// Blocks that hold no key (such as "EC PARAMETERS") are skipped.
func ParsePublicKeys(data []byte) ([]crypto.PublicKey, error) {
	var out []crypto.PublicKey
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		pub, err := blockPublicKey(block)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s): %w", n, block.Type, err)
		}
		if pub != nil {
			out = append(out, pub)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM-encoded key found")
	}
	return out, nil
}

func blockPublicKey(block *pem.Block) (crypto.PublicKey, error) {
	switch block.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	case "RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY":
		priv, err := parsePrivateBlock(block)
		if err != nil {
			return nil, err
		}
		return priv.Public(), nil
	case "EC PARAMETERS":
		return nil, nil
	default:
		return nil, fmt.Errorf("unsupported PEM type %q", block.Type)
	}
}

// FromPublicKey builds the JWK of an RSA or ECDSA public key with kid set to
// its RFC 7638 thumbprint, alg RS256 or ES256/ES384/ES512 and use "sig".
func FromPublicKey(pub crypto.PublicKey) (JWK, error) {
	var k JWK
	switch p := pub.(type) {
	case *rsa.PublicKey:
		k = JWK{Kty: "RSA", Alg: "RS256", N: b64.EncodeToString(p.N.Bytes()),
			E: b64.EncodeToString(big.NewInt(int64(p.E)).Bytes())}
	case *ecdsa.PublicKey:
		crv, alg, err := curveNames(p.Curve)
		if err != nil {
			return JWK{}, err
		}
		raw, err := p.Bytes() // 0x04 || X || Y, each padded to the field size
		if err != nil {
			return JWK{}, err
		}
		size := (len(raw) - 1) / 2
		k = JWK{Kty: "EC", Alg: alg, Crv: crv,
			X: b64.EncodeToString(raw[1 : 1+size]), Y: b64.EncodeToString(raw[1+size:])}
	default:
		return JWK{}, fmt.Errorf("unsupported key type %T (want RSA or ECDSA)", pub)
	}
	k.Use = "sig"
	k.Kid = k.thumbprint()
	return k, nil
}

func curveNames(c elliptic.Curve) (crv, alg string, err error) {
	switch c {
	case elliptic.P256():
		return "P-256", "ES256", nil
	case elliptic.P384():
		return "P-384", "ES384", nil
	case elliptic.P521():
		return "P-521", "ES512", nil
	}
	return "", "", fmt.Errorf("unsupported curve %s", c.Params().Name)
}

// Thumbprint returns the RFC 7638 thumbprint (base64url SHA-256) of an RSA
// or ECDSA public key.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	k, err := FromPublicKey(pub)
	if err != nil {
		return "", err
	}
	return k.Kid, nil
}

// thumbprint hashes the required members in lexicographic order with no
// whitespace (RFC 7638 section 3.2). Base64url strings need no escaping.
func (k JWK) thumbprint() string {
	var canon string
	switch k.Kty {
	case "RSA":
		canon = `{"e":"` + k.E + `","kty":"RSA","n":"` + k.N + `"}`
	case "EC":
		canon = `{"crv":"` + k.Crv + `","kty":"EC","x":"` + k.X + `","y":"` + k.Y + `"}`
	}
	sum := sha256.Sum256([]byte(canon))
	return b64.EncodeToString(sum[:])
}

// FromPEM returns the JWKS of every key in PEM data, one entry per distinct
// key in input order (a private key and its public key give one entry).
func FromPEM(data []byte) (*Set, error) {
	pubs, err := ParsePublicKeys(data)
	if err != nil {
		return nil, err
	}
	set := &Set{Keys: []JWK{}}
	seen := map[string]bool{}
	for _, pub := range pubs {
		k, err := FromPublicKey(pub)
		if err != nil {
			return nil, err
		}
		if !seen[k.Kid] {
			seen[k.Kid] = true
			set.Keys = append(set.Keys, k)
		}
	}
	return set, nil
}

// JSON encodes the set compactly as {"keys":[...]}.
func (s *Set) JSON() ([]byte, error) {
	return json.Marshal(s)
}
