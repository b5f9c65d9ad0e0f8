package translate

import (
	"strings"
	"testing"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/jwtgate/jwtgate/policies"
)

func TestUsesRemoteJWKS(t *testing.T) {
	envoy := Options{EnvoyFetchesKeys: true}
	tests := []struct {
		name string
		rule policies.JWTRule
		opts Options
		want bool
	}{
		{"jwksUri, envoy mode", policies.JWTRule{Issuer: "i", JwksURI: "https://a/k"}, envoy, true},
		{"jwksUri, jwtgate mode", policies.JWTRule{Issuer: "i", JwksURI: "https://a/k"}, Options{}, false},
		{"inline jwks", policies.JWTRule{Issuer: "i", Jwks: "{}"}, envoy, false},
		{"OIDC discovery stays with jwtgate", policies.JWTRule{Issuer: "https://a"}, envoy, false},
	}
	for _, tt := range tests {
		if got := usesRemoteJWKS(tt.rule, tt.opts); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseJWKSUpstream(t *testing.T) {
	tests := []struct{ uri, cluster string }{
		{"https://login.example.com/keys", "jwks|login.example.com|443|https"},
		{"https://LOGIN.Example.com:443/other", "jwks|login.example.com|443|https"},
		{"http://login.example.com/keys", "jwks|login.example.com|80|http"},
		{"https://login.example.com:8443/keys", "jwks|login.example.com|8443|https"},
		{"http://127.0.0.1:9000/jwks.json", "jwks|127.0.0.1|9000|http"},
		{"https://[2001:db8::1]/jwks", "jwks|2001:db8::1|443|https"},
		{"http://10.0.0.1/jwks", "jwks|10.0.0.1|80|http"}, // private ranges are allowed
	}
	for _, tt := range tests {
		up, err := parseJWKSUpstream(tt.uri)
		if err != nil {
			t.Errorf("%s: %v", tt.uri, err)
			continue
		}
		if got := up.clusterName(); got != tt.cluster {
			t.Errorf("%s: cluster %q, want %q", tt.uri, got, tt.cluster)
		}
	}
	refused := []struct{ uri, reason string }{
		{"http://169.254.169.254/latest/meta-data/jwks", "cloud metadata address"},
		{"http://metadata.google.internal/jwks", "cloud metadata host name"},
		{"http://METADATA.google.internal./jwks", "cloud metadata host name"},
		{"http://169.254.10.1/jwks", "link-local"},
		{"http://[fe80::1]/jwks", "link-local"},
		{"http://[::ffff:169.254.169.254]/jwks", "cloud metadata address"},
		{"http://[fd00:ec2::254]/jwks", "cloud metadata address"},
		{"http://100.100.100.200/jwks", "cloud metadata address"},
		{"http://0.0.0.0/jwks", "unspecified"},
		{"http://224.0.0.1/jwks", "multicast"},
		{"ftp://login.example.com/jwks", "scheme"},
		{"https://login.example.com:0/jwks", "bad port"},
	}
	for _, tt := range refused {
		_, err := parseJWKSUpstream(tt.uri)
		if err == nil || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("%s: got %v, want an error naming %q", tt.uri, err, tt.reason)
		}
	}
}

func TestRemoteJWKSProvider(t *testing.T) {
	opts := Options{EnvoyFetchesKeys: true}
	p, err := jwtProvider(policies.JWTRule{Issuer: "https://a", JwksURI: "https://a.example.com/keys", Timeout: "1.5s"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"issuer":"https://a","normalizePayloadInMetadata":{"spaceDelimitedClaims":["scope","permission"]},"payloadInMetadata":"payload",` +
		`"remoteJwks":{"asyncFetch":{},"cacheDuration":"1200s","httpUri":{"cluster":"jwks|a.example.com|443|https","timeout":"1.500s","uri":"https://a.example.com/keys"},` +
		`"retryPolicy":{"numRetries":3,"retryBackOff":{"baseInterval":"0.500s","maxInterval":"5s"}}}}`
	if got := compact(t, p); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if err := p.ValidateAll(); err != nil {
		t.Error(err)
	}
	// Default timeout 5s, and a refused URI is an error, not a provider.
	p, err = jwtProvider(policies.JWTRule{Issuer: "b", JwksURI: "http://b/keys"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.GetRemoteJwks().GetHttpUri().GetTimeout().AsDuration().String(); got != "5s" {
		t.Errorf("default timeout %s, want 5s", got)
	}
	if _, err := jwtProvider(policies.JWTRule{Issuer: "m", JwksURI: "http://169.254.169.254/jwks"}, opts); err == nil ||
		!strings.Contains(err.Error(), "refused by the SSRF guard") {
		t.Errorf("metadata jwksUri: got %v, want an SSRF guard error", err)
	}
}

func TestUpstreamTLS(t *testing.T) {
	tests := []struct {
		host, sni, san string
		sanType        tlsv3.SubjectAltNameMatcher_SanType
	}{
		{"login.example.com", "login.example.com", "login.example.com", tlsv3.SubjectAltNameMatcher_DNS},
		{"login.example.com.", "login.example.com", "login.example.com", tlsv3.SubjectAltNameMatcher_DNS},
		{"10.0.0.1", "", "10.0.0.1", tlsv3.SubjectAltNameMatcher_IP_ADDRESS},
		{"2001:db8::1", "", "2001:db8::1", tlsv3.SubjectAltNameMatcher_IP_ADDRESS},
	}
	for _, tt := range tests {
		ts, err := upstreamTLS(tt.host, "/ca.pem")
		if err != nil {
			t.Fatal(err)
		}
		ctx := &tlsv3.UpstreamTlsContext{}
		if err := ts.GetTypedConfig().UnmarshalTo(ctx); err != nil {
			t.Fatal(err)
		}
		if err := ctx.ValidateAll(); err != nil {
			t.Errorf("%s: %v", tt.host, err)
		}
		vc := ctx.GetCommonTlsContext().GetValidationContext()
		sans := vc.GetMatchTypedSubjectAltNames()
		if ctx.GetSni() != tt.sni || len(sans) != 1 || sans[0].GetSanType() != tt.sanType || sans[0].GetMatcher().GetExact() != tt.san ||
			vc.GetTrustedCa().GetFilename() != "/ca.pem" || ts.GetName() != "envoy.transport_sockets.tls" {
			t.Errorf("%s: got %s", tt.host, compact(t, ctx))
		}
	}
}

// remoteSet is the guide's gateway with one RequestAuthentication of rules.
func remoteSet(rules ...policies.JWTRule) *policies.Set {
	return guideSet(func(s *policies.Set) {
		s.RequestAuthentications = []*policies.RequestAuthentication{{
			Metadata: meta("istio-system", "ra"),
			Spec:     policies.RequestAuthenticationSpec{JWTRules: rules},
		}}
	})
}

func clusterNames(res *Resources) []string {
	var out []string
	for _, c := range res.Clusters {
		out = append(out, c.GetName())
	}
	return out
}

func TestTranslateRemoteJWKSClusters(t *testing.T) {
	rules := []policies.JWTRule{
		{Issuer: "a", JwksURI: "https://login.example.com/a"},
		{Issuer: "b", JwksURI: "https://login.example.com/b"},
		{Issuer: "c", JwksURI: "http://login.example.com/c"},
		{Issuer: "https://d"}, // discovery: keys from JWKS
		{Issuer: "e", Jwks: "{}"},
	}
	base := Options{JWKS: map[string]string{"https://d/.well-known/openid-configuration": "D"}, FailClosedJWKS: "FC"}

	res, err := Translate(remoteSet(rules...), gatewayID, base)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(clusterNames(res), ","); got != "outbound|8000||httpbin" {
		t.Errorf("jwtgate mode: clusters %s, want only the route's", got)
	}

	envoy := base
	envoy.EnvoyFetchesKeys = true
	res, err = Translate(remoteSet(rules...), gatewayID, envoy)
	if err != nil {
		t.Fatal(err)
	}
	want := "jwks|login.example.com|443|https,jwks|login.example.com|80|http,outbound|8000||httpbin"
	if got := strings.Join(clusterNames(res), ","); got != want {
		t.Errorf("envoy mode: clusters %s, want %s", got, want)
	}
	validateAll(t, res)
	for _, c := range res.Clusters {
		hasTLS := c.GetTransportSocket() != nil
		if wantTLS := strings.HasSuffix(c.GetName(), "|https"); hasTLS != wantTLS {
			t.Errorf("cluster %s: TLS %v, want %v", c.GetName(), hasTLS, wantTLS)
		}
		if strings.HasPrefix(c.GetName(), "jwks|") && c.GetType().String() != "STRICT_DNS" {
			t.Errorf("cluster %s: type %s, want STRICT_DNS", c.GetName(), c.GetType())
		}
	}
	if ca := envoy.withDefaults().CAFile; ca != DefaultCAFile {
		t.Errorf("default CA file %q", ca)
	}

	// A gateway without listeners gets no key clusters.
	res, err = Translate(remoteSet(rules...), policies.Identity{Namespace: "istio-system", Labels: map[string]string{"app": "other"}}, envoy)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Listeners) != 0 || len(res.Clusters) != 0 {
		t.Errorf("no listeners: got clusters %v", clusterNames(res))
	}
}

func TestTranslateRemoteJWKSRefused(t *testing.T) {
	envoy := Options{EnvoyFetchesKeys: true, FailClosedJWKS: "FC"}
	for _, tt := range []struct {
		name    string
		rule    policies.JWTRule
		resolve map[string]string
		want    string
	}{
		{"metadata address", policies.JWTRule{Issuer: "m", JwksURI: "http://169.254.169.254/jwks"}, nil, "169.254.169.254 is a cloud metadata address"},
		{"metadata name", policies.JWTRule{Issuer: "m", JwksURI: "http://metadata.google.internal/jwks"}, nil, "cloud metadata host name"},
		{"resolve to link-local", policies.JWTRule{Issuer: "r", JwksURI: "https://idp.example.com/jwks"},
			map[string]string{"idp.example.com": "169.254.1.1:443"}, "169.254.1.1 is a link-local address"},
	} {
		opts := envoy
		opts.Resolve = tt.resolve
		_, err := Translate(remoteSet(tt.rule), gatewayID, opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.name, err, tt.want)
		}
		// jwtgate mode does not refuse: its fetcher's guard does, at fetch time.
		opts.EnvoyFetchesKeys = false
		if _, err := Translate(remoteSet(tt.rule), gatewayID, opts); err != nil {
			t.Errorf("%s, jwtgate mode: %v", tt.name, err)
		}
	}
}
