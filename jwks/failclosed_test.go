package jwks

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// failClosedKid pins the derived key (cross-checked with an independent
// Python derivation, counter 0): a change here changes every snapshot
// version that inlines the fail-closed JWKS, so it must be deliberate.
const failClosedKid = "EYgnn3hWIz6y3m4sQKZwj5X-k4XBInF4_H0Pid7rxoI"

func TestFailClosedJWKSDeterministic(t *testing.T) {
	a, err := FailClosedJWKS()
	if err != nil {
		t.Fatal(err)
	}
	b, err := FailClosedJWKS()
	if err != nil || a != b {
		t.Fatalf("two calls differ: %q vs %q (%v)", a, b, err)
	}
	// Re-deriving from scratch (no cache) gives the same key.
	pub, err := failClosedPublicKey(FailClosedLabel)
	if err != nil {
		t.Fatal(err)
	}
	k, err := FromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	fresh, _ := (&Set{Keys: []JWK{k}}).JSON()
	if string(fresh) != a {
		t.Fatalf("re-derived JWKS %s != cached %s", fresh, a)
	}
	if k.Kid != failClosedKid {
		t.Errorf("kid = %s, want pinned %s", k.Kid, failClosedKid)
	}
	other, err := failClosedPublicKey(FailClosedLabel + " other")
	if err != nil {
		t.Fatal(err)
	}
	if other.Equal(pub) {
		t.Error("a different label gave the same point")
	}
}

func TestFailClosedJWKSIsValidP256(t *testing.T) {
	s, err := FailClosedJWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(s), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("not a JWKS with one key: %v %s", err, s)
	}
	k := set.Keys[0]
	if !k.IsPublic() || !k.Valid() || k.Algorithm != "ES256" || k.Use != "sig" {
		t.Fatalf("key = %+v, want a valid public ES256 signing key", k)
	}
	pub, ok := k.Key.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("key type %T, want P-256 ECDSA", k.Key)
	}
	raw, err := pub.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ecdh.P256().NewPublicKey(raw); err != nil {
		t.Fatalf("point rejected by crypto/ecdh: %v", err)
	}
	if raw[64]&1 != 0 {
		t.Error("y is odd, want the even root")
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil || b64.EncodeToString(tp) != k.KeyID {
		t.Errorf("kid %s is not the RFC 7638 thumbprint (%v)", k.KeyID, err)
	}
}

func TestFailClosedJWKSRejectsTokens(t *testing.T) {
	s, err := FailClosedJWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set Set
	if err := json.Unmarshal([]byte(s), &set); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		// Claim the fail-closed kid so the verifier tries that key.
		tok, err := Sign(key, TokenOptions{Issuer: "i", ExpiresIn: time.Hour, KeyID: set.Keys[0].Kid})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(tok, []byte(s)); err == nil {
			t.Fatal("a token of a fresh key verified against the fail-closed JWKS")
		}
	}
}
