package main

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jwtgate/jwtgate/policies"
	"github.com/jwtgate/jwtgate/translate"
)

// metadataURIYAML has two jwksUri rules, the second on the cloud metadata
// address; the document starts at line 1, which errors name.
const metadataURIYAML = `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: meta
  namespace: istio-system
spec:
  jwtRules:
    - issuer: https://ok.example
      jwksUri: https://ok.example/jwks.json
    - issuer: https://meta.example
      jwksUri: http://169.254.169.254/latest/jwks.json
`

func TestJWKSFetcherOptions(t *testing.T) {
	for _, c := range []struct {
		env, flag  []string // JWTGATE_JWKS_FETCHER value (if any), flags
		wantEnvoy  bool
		wantCAFile string
		wantErr    string
	}{
		{nil, nil, false, translate.DefaultCAFile, ""},
		{nil, []string{"--jwks-fetcher", "envoy"}, true, translate.DefaultCAFile, ""},
		{[]string{"envoy"}, nil, true, translate.DefaultCAFile, ""},
		{[]string{"envoy"}, []string{"--jwks-fetcher", "jwtgate"}, false, translate.DefaultCAFile, ""},
		{nil, []string{"--jwks-fetcher", "envoy", "--envoy-ca-file", "/etc/pki/tls/certs/ca-bundle.crt"}, true, "/etc/pki/tls/certs/ca-bundle.crt", ""},
		{nil, []string{"--jwks-fetcher", "istiod"}, false, "", `--jwks-fetcher "istiod": want jwtgate or envoy`},
		{nil, []string{"--envoy-ca-file", ""}, false, "", "--envoy-ca-file must not be empty"},
	} {
		if c.env != nil {
			t.Setenv("JWTGATE_JWKS_FETCHER", c.env[0])
		}
		a, cmd := setupServe(t, c.flag...)
		opts, err := a.translateOptions(cmd)
		switch {
		case c.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("env %v flags %v: error %v, want %q", c.env, c.flag, err, c.wantErr)
			}
		case err != nil:
			t.Errorf("env %v flags %v: %v", c.env, c.flag, err)
		case opts.EnvoyFetchesKeys != c.wantEnvoy || opts.CAFile != c.wantCAFile:
			t.Errorf("env %v flags %v: envoy %v ca %q, want %v %q", c.env, c.flag, opts.EnvoyFetchesKeys, opts.CAFile, c.wantEnvoy, c.wantCAFile)
		}
		t.Setenv("JWTGATE_JWKS_FETCHER", "")
	}
	r := runCLI(t, deps{}, "", "serve", "--jwks-fetcher", "both")
	if r.code != 2 || !strings.Contains(r.stderr, `--jwks-fetcher "both": want jwtgate or envoy`) {
		t.Errorf("serve: %+v", r)
	}
}

func TestValidateEnvoyFetcherRefusesMetadataURI(t *testing.T) {
	dir := policyTree(t, map[string]string{"gw.yaml": gatewayYAML, "meta.yaml": metadataURIYAML})
	// jwtgate mode: valid (jwtgate's fetcher refuses the URL at fetch time).
	if r := runCLI(t, defaultDeps(), "", "validate", dir); r.code != 0 {
		t.Fatalf("jwtgate mode: %+v", r)
	}
	want := filepath.Join(dir, "meta.yaml") + ":1: spec.jwtRules[1].jwksUri: refused by the SSRF guard: 169.254.169.254 is a cloud metadata address"
	r := runCLI(t, defaultDeps(), "", "validate", "--jwks-fetcher", "envoy", dir)
	if r.code != 1 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "without jwtgate's SSRF guard") ||
		strings.Contains(r.stderr, "ok.example") || !strings.Contains(r.stderr, "invalid policies: 1 error(s)") {
		t.Errorf("envoy mode: %+v\nwant stderr with %q", r, want)
	}
	t.Setenv("JWTGATE_JWKS_FETCHER", "envoy")
	if r := runCLI(t, defaultDeps(), "", "validate", dir); r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("envoy mode from the environment: %+v", r)
	}
	// The same check in render.
	r = runCLI(t, defaultDeps(), "", "render", dir)
	if r.code != 1 || !strings.Contains(r.stderr, want) || r.stdout != "" {
		t.Errorf("render, envoy mode: %+v", r)
	}
}

func TestRenderEnvoyFetcher(t *testing.T) {
	dir := policyTree(t, map[string]string{"gw.yaml": gatewayYAML, "ra.yaml": jwksURIYAML})
	r := runCLI(t, defaultDeps(), "", "render", dir, "--jwks-fetcher", "envoy", "--envoy-ca-file", "/opt/ca.pem")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	for _, w := range []string{"remoteJwks:", "uri: https://issuer.example/jwks.json", "cluster: jwks|issuer.example|443|https",
		"name: jwks|issuer.example|443|https", "filename: /opt/ca.pem", "sni: issuer.example", "cacheDuration: 1200s"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("stdout lacks %q", w)
		}
	}
	if strings.Contains(r.stdout, "localJwks") || strings.Contains(r.stderr, "not fetched by render") {
		t.Errorf("envoy mode still inlines keys or notes a fetch:\nstderr: %s", r.stderr)
	}
}

func TestPusherEnvoyFetcher(t *testing.T) {
	keys := &fakeKeys{keys: map[string]string{}, changes: make(chan struct{}, 1)}
	srv := &fakeServer{}
	trans := func(_ *policies.Set, _ policies.Identity, o translate.Options) (*translate.Resources, error) {
		if !o.EnvoyFetchesKeys {
			t.Error("EnvoyFetchesKeys not passed through")
		}
		return &translate.Resources{}, nil
	}
	var logs bytes.Buffer
	p := newPusher(srv, keys, slog.New(slog.NewTextHandler(&logs, nil)), translate.Options{EnvoyFetchesKeys: true}, trans)
	srv.p = p

	// jwksUri rules are Envoy's; only the discovery URL is fetched by jwtgate.
	set := jwksSet("s1", "http://a/keys")
	set.RequestAuthentications[0].Spec.JWTRules = append(set.RequestAuthentications[0].Spec.JWTRules,
		policies.JWTRule{Issuer: "https://oidc.example"})
	p.publish(set)
	disc := "https://oidc.example/.well-known/openid-configuration"
	if w := keys.takeWants(); !reflect.DeepEqual(w, [][]string{{disc}, {disc}}) {
		t.Errorf("wants %v, want only the discovery URL", w)
	}

	// A set with a jwksUri on the metadata address is not pushed.
	bad := jwksSet("s2", "http://169.254.169.254/jwks")
	bad.RequestAuthentications[0].Origin = policies.Origin{File: "meta.yaml", Line: 3}
	p.publish(bad)
	if !reflect.DeepEqual(srv.sets, []string{"s1"}) || p.last != set || len(keys.takeWants()) != 0 {
		t.Errorf("refused set pushed: sets %v", srv.sets)
	}
	for _, w := range []string{"meta.yaml:3: spec.jwtRules[0].jwksUri: refused by the SSRF guard", "policy set not applied"} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, logs.String())
		}
	}
}
