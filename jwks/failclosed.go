package jwks

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"sync"
)

// FailClosedLabel is the fixed input hashed to the fail-closed key's x
// coordinate (see FailClosedJWKS). Changing it changes the key, the JWKS
// and therefore every snapshot version that inlines it.
const FailClosedLabel = "jwtgate fail-closed key v1"

// FailClosedJWKS returns a JWKS holding one P-256 public key (alg ES256,
// kid = its RFC 7638 thumbprint) for which nobody holds a private key.
// jwtgate inlines it for an issuer whose keys could not be fetched, so every
// token of that issuer fails verification (401) instead of passing.
//
// The key is a "nothing-up-my-sleeve" point: x is SHA-256(FailClosedLabel ||
// counter) for the first 32-bit big-endian counter (from 0) where x < p and
// x^3 - 3x + b is a square mod p; y is the even square root. Hashing fixes
// the point before anyone could choose a scalar for it, so finding its
// private key means solving the elliptic-curve discrete logarithm for an
// arbitrary point: no one, jwtgate's authors included, can sign for it.
// Istio once inlined a fixed key whose private half was published with the
// code, so anyone could mint accepted tokens (a CVE); here there is no
// private half anywhere, and anyone can re-derive the point to check that.
//
// The result is deterministic (same bytes on every call, process and
// machine), so a restart or a second replica produces the same snapshot
// version. It is computed once and cached.
func FailClosedJWKS() (string, error) {
	return failClosed()
}

var failClosed = sync.OnceValues(func() (string, error) {
	pub, err := failClosedPublicKey(FailClosedLabel)
	if err != nil {
		return "", err
	}
	k, err := FromPublicKey(pub)
	if err != nil {
		return "", err
	}
	out, err := (&Set{Keys: []JWK{k}}).JSON()
	return string(out), err
})

// failClosedPublicKey derives the nothing-up-my-sleeve P-256 point for
// label by hash-and-increment, and parses it through crypto/ecdsa, which
// rejects a point that is not on the curve.
func failClosedPublicKey(label string) (*ecdsa.PublicKey, error) {
	params := elliptic.P256().Params()
	p := params.P
	three := big.NewInt(3)
	for counter := uint32(0); counter < 1<<16; counter++ {
		msg := binary.BigEndian.AppendUint32([]byte(label), counter)
		sum := sha256.Sum256(msg)
		x := new(big.Int).SetBytes(sum[:])
		if x.Cmp(p) >= 0 {
			continue
		}
		// rhs = x^3 - 3x + b mod p
		rhs := new(big.Int).Exp(x, three, p)
		rhs.Sub(rhs, new(big.Int).Mul(three, x))
		rhs.Add(rhs, params.B)
		rhs.Mod(rhs, p)
		y := new(big.Int).ModSqrt(rhs, p)
		if y == nil || y.Sign() == 0 {
			continue
		}
		if y.Bit(0) == 1 {
			y.Sub(p, y)
		}
		raw := make([]byte, 65)
		raw[0] = 4
		x.FillBytes(raw[1:33])
		y.FillBytes(raw[33:])
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
		if err != nil {
			return nil, fmt.Errorf("fail-closed key: counter %d: %w", counter, err)
		}
		return pub, nil
	}
	return nil, errors.New("fail-closed key: no curve point found")
}
