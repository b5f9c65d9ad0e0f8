package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mccutchen/go-httpbin/v2/httpbin"
)

// startHTTPBin serves go-httpbin on 127.0.0.1 and returns its port. It
// adds /healthz and /readyz (200, like a real service's probes; httpbin has
// none), and answers 200 "unnormalized path reached the backend" to any
// request whose raw path is not clean, so a path-normalisation bypass at the
// gateway shows as a 200 rather than hiding behind Go's own redirect.
func startHTTPBin(t *testing.T) int {
	t.Helper()
	hb := httpbin.New()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _, _ := strings.Cut(r.RequestURI, "?")
		switch {
		case raw != path.Clean(raw) || strings.ContainsAny(raw, "%;\\"):
			_, _ = fmt.Fprintf(w, "unnormalized path reached the backend: %s\n", r.RequestURI)
		case r.URL.Path == "/healthz" || r.URL.Path == "/readyz":
			_, _ = fmt.Fprintln(w, "ok")
		default:
			hb.ServeHTTP(w, r)
		}
	})
	return serveLoopback(t, h)
}

// startBackend serves a tiny upstream on 127.0.0.1 and returns its port.
// It answers every request 200 with the header "X-Backend: name" and a
// one-line body naming itself, the request and the Host it received, so a
// routing test can tell which destination a request reached (see servedBy).
func startBackend(t *testing.T, name string) int {
	t.Helper()
	return serveLoopback(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		_, _ = fmt.Fprintf(w, "backend %s: %s %s (host %s)\n", name, r.Method, r.RequestURI, r.Host)
	}))
}

// serveLoopback serves h on a free 127.0.0.1 port until the test ends and
// returns the port.
func serveLoopback(t *testing.T, h http.Handler) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// keyPair is an RSA key written as PEM files, like the guide's openssl steps.
type keyPair struct {
	priv, pub string // file paths
	key       *rsa.PublicKey
}

// newKeyPair generates an RSA 2048 key in dir. The private key is PKCS#8
// ("BEGIN PRIVATE KEY", what OpenSSL 3's genrsa writes) unless pkcs1 is
// set ("BEGIN RSA PRIVATE KEY", older OpenSSL); the public key is PKIX
// (openssl rsa -pubout).
func newKeyPair(t *testing.T, dir, name string, pkcs1 bool) keyPair {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var privBlock *pem.Block
	if pkcs1 {
		privBlock = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	} else {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		privBlock = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	kp := keyPair{
		priv: filepath.Join(dir, name+"-private-key.pem"),
		pub:  filepath.Join(dir, name+"-public-key.pem"),
		key:  &k.PublicKey,
	}
	if err := os.WriteFile(kp.priv, pem.EncodeToMemory(privBlock), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kp.pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return kp
}

// thumbprint is the RFC 7638 JWK thumbprint of an RSA public key.
func thumbprint(k *rsa.PublicKey) string {
	b64 := base64.RawURLEncoding.EncodeToString
	e := b64(big.NewInt(int64(k.E)).Bytes())
	n := b64(k.N.Bytes())
	sum := sha256.Sum256([]byte(`{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`))
	return b64(sum[:])
}

// cli runs a jwtgate subcommand and returns its trimmed stdout; a non-zero
// exit fails the test.
func cli(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, errOut, code := cliResult(bin, args...)
	if code != 0 {
		t.Fatalf("jwtgate %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return strings.TrimSpace(out)
}

// cliResult runs a jwtgate subcommand and returns stdout, stderr and the
// exit code (-1 if it could not run).
func cliResult(bin string, args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		code = 0
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		fmt.Fprintf(&e, "%v", err)
		code = -1
	}
	return o.String(), e.String(), code
}

// jwksFor runs `jwtgate jwk --in pub` and checks the result is a JWKS with
// one RSA key whose kid is the key's RFC 7638 thumbprint. It returns the
// JWKS as compact JSON.
func jwksFor(t *testing.T, bin string, kp keyPair) string {
	t.Helper()
	out := cli(t, bin, "jwk", "--in", kp.pub)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(out), &set); err != nil {
		t.Fatalf("jwtgate jwk: not JSON: %v\n%s", err, out)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("jwtgate jwk: want 1 key, got %d: %s", len(set.Keys), out)
	}
	k := set.Keys[0]
	if k["kty"] != "RSA" || k["e"] != "AQAB" || k["n"] != base64.RawURLEncoding.EncodeToString(kp.key.N.Bytes()) {
		t.Fatalf("jwtgate jwk: key does not match %s: %s", kp.pub, out)
	}
	if want := thumbprint(kp.key); k["kid"] != want {
		t.Fatalf("jwtgate jwk: kid %v, want RFC 7638 thumbprint %s", k["kid"], want)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(out)); err != nil {
		t.Fatal(err)
	}
	return compact.String()
}

// token signs a JWT with k's private key: `jwtgate token --key <k.priv>
// args...` (e.g. "--iss", issuer, "--sub", subject).
func token(t *testing.T, bin string, k keyPair, args ...string) string {
	t.Helper()
	return cli(t, bin, append([]string{"token", "--key", k.priv}, args...)...)
}

// writeExample puts examples/<name> into the watched directory, with the
// guide's placeholder JWKS replaced by jwks unless jwks is empty.
func (s *stack) writeExample(name, jwks string) {
	s.t.Helper()
	s.writePolicy(name, render(s.t, name, jwks))
}

// newGuideStack runs httpbin, jwtgate (with extra serve flags, if any) and
// Envoy on envoy-config/<bootstrap> with the guide's 00-gateway,
// 10-requestauthentication (the JWKS of a fresh RSA key) and 20-require-jwt
// in force, and returns the stack and a token of that key with iss
// testing@asm.test.io. Wait for Envoy's configuration with s.coldStart.
func newGuideStack(t *testing.T, bootstrap string, serveArgs ...string) (*stack, string) {
	t.Helper()
	s := newStack(t)
	key := newKeyPair(t, s.dir, "rsa", false)
	tok := token(t, s.bin, key, "--iss", issuer)
	s.writeExample("00-gateway.yaml", "")
	s.writeExample("10-requestauthentication.yaml", jwksFor(t, s.bin, key))
	s.writeExample("20-require-jwt.yaml", "")
	s.serve(bootstrap, serveArgs...)
	return s, tok
}
