package jwks

import (
	"crypto/rand"
	"crypto/rsa"
)

// FailClosedJWKS returns the JWKS of a freshly generated RSA key whose
// private half is dropped before this function returns. Inlined for an
// issuer whose keys could not be fetched, it makes every token of that
// issuer fail verification: nobody can sign for it, not even jwtgate.
// (Istio once inlined a fixed key whose private half was public, so anyone
// could mint accepted tokens; a fresh, discarded key cannot leak that way.)
func FailClosedJWKS() (string, error) {
	pub, err := freshPublicKey()
	if err != nil {
		return "", err
	}
	k, err := FromPublicKey(pub)
	if err != nil {
		return "", err
	}
	out, err := (&Set{Keys: []JWK{k}}).JSON()
	return string(out), err
}

// freshPublicKey generates an RSA key and returns only its public half; the
// private key becomes unreachable when this function returns.
func freshPublicKey() (*rsa.PublicKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	pub := priv.PublicKey
	return &pub, nil
}
