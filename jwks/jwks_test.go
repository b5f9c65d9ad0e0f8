package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// RFC 7638 section 3.1 example key and its published thumbprint.
const (
	rfcN = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	rfcE = "AQAB"
	rfcT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
)

func TestThumbprintRFC7638(t *testing.T) {
	n, err := b64.DecodeString(rfcN)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := b64.DecodeString(rfcE)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	got, err := Thumbprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	if got != rfcT {
		t.Fatalf("thumbprint = %s, want %s", got, rfcT)
	}
	k, _ := FromPublicKey(pub)
	if k.N != rfcN || k.E != rfcE || k.Alg != "RS256" || k.Use != "sig" || k.Kid != rfcT {
		t.Fatalf("unexpected JWK %+v", k)
	}
}

func TestThumbprintECMatchesGoJose(t *testing.T) {
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		priv, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Thumbprint(priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		want, err := (&jose.JSONWebKey{Key: priv.Public()}).Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if got != b64.EncodeToString(want) {
			t.Errorf("%s: thumbprint %s, go-jose says %s", c.Params().Name, got, b64.EncodeToString(want))
		}
	}
}

func pemOf(t *testing.T, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestFromPEMFormats(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pkix, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	ecPKIX, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	sec1, _ := x509.MarshalECPrivateKey(ecKey)
	rsaKid, _ := Thumbprint(&rsaKey.PublicKey)
	ecKid, _ := Thumbprint(&ecKey.PublicKey)

	cases := map[string]struct {
		pem      []byte
		kid, alg string
	}{
		"PKIX RSA":      {pemOf(t, "PUBLIC KEY", pkix), rsaKid, "RS256"},
		"PKCS1 pub":     {pemOf(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)), rsaKid, "RS256"},
		"PKCS1 priv":    {pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), rsaKid, "RS256"},
		"PKCS8 priv":    {pemOf(t, "PRIVATE KEY", pkcs8), rsaKid, "RS256"},
		"PKIX EC":       {pemOf(t, "PUBLIC KEY", ecPKIX), ecKid, "ES256"},
		"SEC1 + params": {append(pemOf(t, "EC PARAMETERS", []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}), pemOf(t, "EC PRIVATE KEY", sec1)...), ecKid, "ES256"},
	}
	for name, tc := range cases {
		set, err := FromPEM(tc.pem)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(set.Keys) != 1 || set.Keys[0].Kid != tc.kid || set.Keys[0].Alg != tc.alg {
			t.Errorf("%s: got %+v", name, set.Keys)
		}
	}

	// A private key and its public key in one file give one entry.
	both := append(pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), pemOf(t, "PUBLIC KEY", pkix)...)
	set, err := FromPEM(both)
	if err != nil || len(set.Keys) != 1 {
		t.Fatalf("dedupe: %v %+v", err, set)
	}

	if _, err := FromPEM([]byte("not pem")); err == nil {
		t.Error("garbage input: want error")
	}
	if _, err := FromPEM(pemOf(t, "CERTIFICATE REQUEST", []byte{1})); err == nil {
		t.Error("unsupported block: want error")
	}
}

func TestJSONFieldOrder(t *testing.T) {
	set := &Set{Keys: []JWK{{Kty: "RSA", Use: "sig", Alg: "RS256", Kid: "k", N: "nn", E: "AQAB"}}}
	out, err := set.JSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":"k","n":"nn","e":"AQAB"}]}`
	if string(out) != want {
		t.Fatalf("got %s\nwant %s", out, want)
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Unix(1700000000, 0)
	for _, key := range []crypto.Signer{rsaKey, ecKey} {
		set, err := FromPEM(pemOf(t, "PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(key))))
		if err != nil {
			t.Fatal(err)
		}
		jwksJSON, _ := set.JSON()
		extra := map[string]any{}
		for _, c := range []string{`groups=["a","b"]`, `n=42`, `plain=hello world`, `x.y=true`} {
			if err := SetClaim(extra, c); err != nil {
				t.Fatal(err)
			}
		}
		tok, err := Sign(key, TokenOptions{Issuer: "testing@asm.test.io", Subject: "demo@asm.test.io",
			Audiences: []string{"a1", "a2"}, ExpiresIn: time.Hour, Claims: extra, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		claims, err := Verify(tok, jwksJSON)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"iss": "testing@asm.test.io", "sub": "demo@asm.test.io", "aud": []any{"a1", "a2"},
			"iat": float64(1700000000), "exp": float64(1700003600),
			"groups": []any{"a", "b"}, "n": float64(42), "plain": "hello world",
			"x": map[string]any{"y": true},
		}
		if !reflect.DeepEqual(claims, want) {
			t.Errorf("claims = %v\nwant %v", claims, want)
		}
		jws, _ := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
		h := jws.Signatures[0].Header
		if h.KeyID != set.Keys[0].Kid || h.Algorithm != set.Keys[0].Alg || h.ExtraHeaders["typ"] != "JWT" {
			t.Errorf("header = %+v", h)
		}

		// A different key must not verify.
		other, _ := FailClosedJWKS()
		if _, err := Verify(tok, []byte(other)); err == nil {
			t.Error("token verified with an unrelated JWKS")
		}
	}
}

func TestClaimsExpiry(t *testing.T) {
	now := time.Unix(1000, 0)
	if _, ok := Claims(TokenOptions{Issuer: "i", Now: now})["exp"]; ok {
		t.Error("ExpiresIn 0 must omit exp")
	}
	if got := Claims(TokenOptions{Issuer: "i", Now: now, ExpiresIn: -time.Minute})["exp"]; got != int64(940) {
		t.Errorf("negative expiry: exp = %v", got)
	}
	if got := Claims(TokenOptions{Issuer: "i", Now: now, Audiences: []string{"x"}})["aud"]; got != "x" {
		t.Errorf("single audience = %v, want string", got)
	}
	if _, err := Sign(must(rsa.GenerateKey(rand.Reader, 1024)), TokenOptions{}); err == nil {
		t.Error("missing issuer: want error")
	}
}

func TestSetClaim(t *testing.T) {
	c := map[string]any{}
	for _, a := range []string{`a.b.c=1`, `a.b.d="s"`, `https://x\.io/role=admin`, `e={"k":[1]}`, `f=1 2`, `g=`} {
		if err := SetClaim(c, a); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
	}
	out, _ := json.Marshal(c)
	want := `{"a":{"b":{"c":1,"d":"s"}},"e":{"k":[1]},"f":"1 2","g":"","https://x.io/role":"admin"}`
	if string(out) != want {
		t.Fatalf("got %s\nwant %s", out, want)
	}
	for _, bad := range []string{"noequals", "=v", "a..b=1", "e.k.z=1"} {
		if err := SetClaim(c, bad); err == nil || !strings.Contains(err.Error(), "claim") {
			t.Errorf("%q: want claim error, got %v", bad, err)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
