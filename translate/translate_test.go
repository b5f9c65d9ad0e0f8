package translate

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/jwtgate/jwtgate/policies"
)

// marshalAll is every resource, deterministically marshalled, in order.
func marshalAll(t *testing.T, res *Resources) []byte {
	t.Helper()
	var buf bytes.Buffer
	opts := proto.MarshalOptions{Deterministic: true}
	var ms []proto.Message
	for _, l := range res.Listeners {
		ms = append(ms, l)
	}
	for _, r := range res.Routes {
		ms = append(ms, r)
	}
	for _, c := range res.Clusters {
		ms = append(ms, c)
	}
	for _, m := range ms {
		b, err := opts.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
	}
	return buf.Bytes()
}

func TestTranslateDeterministic(t *testing.T) {
	set := benchSet(20)
	opts := Options{PortOffset: 8000, FailClosedJWKS: `{"keys":[]}`}
	first, err := Translate(set, gatewayID, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := marshalAll(t, first)
	for i := 0; i < 5; i++ {
		res, err := Translate(set, gatewayID, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(marshalAll(t, res), want) {
			t.Fatalf("run %d differs from the first run", i+1)
		}
	}
	validateAll(t, first)
}

func TestTranslateErrors(t *testing.T) {
	tests := []struct {
		name string
		set  *policies.Set
		opts Options
		want string
	}{
		{"nil set", nil, Options{}, "nil policy set"},
		{"bad no-token status", guideSet(nil), Options{NoTokenStatus: 500}, "401 or 403"},
		{"port out of range", guideSet(nil), Options{PortOffset: 65500}, "out of range"},
		{"custom action", guideSet(func(s *policies.Set) {
			s.AuthorizationPolicies = []*policies.AuthorizationPolicy{{Metadata: meta("istio-system", "ext"), Spec: policies.AuthorizationPolicySpec{Action: "CUSTOM"}}}
		}), Options{}, "CUSTOM"},
		{"jwksUri without keys or fail-closed", guideSet(func(s *policies.Set) {
			s.RequestAuthentications = []*policies.RequestAuthentication{{Metadata: meta("istio-system", "ra"), Spec: policies.RequestAuthenticationSpec{
				JWTRules: []policies.JWTRule{{Issuer: "https://i", JwksURI: "https://i/jwks"}},
			}}}
		}), Options{}, "no fail-closed JWKS"},
		{"listener address is a name", guideSet(nil), Options{ListenerAddress: "localhost"}, `listener address "localhost": want an IP address`},
		{"listener address with port", guideSet(nil), Options{ListenerAddress: "127.0.0.1:80"}, "listener address"},
		{"listener address with zone", guideSet(nil), Options{ListenerAddress: "fe80::1%eth0"}, "listener address"},
		{"listener address with spaces", guideSet(nil), Options{ListenerAddress: " 0.0.0.0"}, "listener address"},
		{"bad resolve", guideSet(nil), Options{Resolve: map[string]string{"httpbin": "not-an-ip"}}, "resolve httpbin"},
		{"unsupported when key", guideSet(func(s *policies.Set) {
			s.AuthorizationPolicies = []*policies.AuthorizationPolicy{{Metadata: meta("istio-system", "w"), Spec: policies.AuthorizationPolicySpec{
				Rules: []policies.Rule{{When: []policies.Condition{{Key: "request.time", Values: []string{"x"}}}}},
			}}}
		}), Options{}, "unsupported when key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Translate(tt.set, gatewayID, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestTranslateGatewayNotSelected(t *testing.T) {
	res, err := Translate(guideSet(nil), policies.Identity{Namespace: "istio-system", Labels: map[string]string{"istio": "egressgateway"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Listeners)+len(res.Routes)+len(res.Clusters) != 0 {
		t.Fatalf("got resources for a gateway no Gateway selects: %d listeners", len(res.Listeners))
	}
}

func TestPolicyApplies(t *testing.T) {
	edge := policies.Identity{Namespace: "gw", Labels: map[string]string{"istio": "ingressgateway", "tier": "edge"}}
	sel := func(kv ...string) *policies.WorkloadSelector {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return &policies.WorkloadSelector{MatchLabels: m}
	}
	tests := []struct {
		name string
		ns   string
		sel  *policies.WorkloadSelector
		want bool
	}{
		{"root, no selector", "istio-system", nil, true},
		{"root, matching selector, other namespace", "istio-system", sel("tier", "edge"), true},
		{"root, selector not matching", "istio-system", sel("tier", "core"), false},
		{"own namespace, no selector", "gw", nil, true},
		{"own namespace, matching selector", "gw", sel("istio", "ingressgateway"), true},
		{"own namespace, selector not matching", "gw", sel("istio", "egressgateway"), false},
		{"other namespace", "default", nil, false},
		{"other namespace, matching selector", "default", sel("tier", "edge"), false},
	}
	for _, tt := range tests {
		if got := policyApplies(tt.ns, tt.sel, edge, "istio-system"); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestListenerAddress: every listener binds the configured address (canonical
// form), is named <address>_<port> like Istio's, and so is its stat prefix.
func TestListenerAddress(t *testing.T) {
	tests := []struct {
		in, addr   string
		ipv4Compat bool
	}{
		{"", "0.0.0.0", false},
		{"0.0.0.0", "0.0.0.0", false},
		{"127.0.0.1", "127.0.0.1", false},
		{"::", "::", true},
		{"0:0::0", "::", true},
		{"::1", "::1", false},
		{"2001:DB8::10", "2001:db8::10", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			res, err := Translate(guideSet(nil), gatewayID, Options{ListenerAddress: tt.in, PortOffset: 8000})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Listeners) != 1 {
				t.Fatalf("%d listeners", len(res.Listeners))
			}
			l := res.Listeners[0]
			sa := l.GetAddress().GetSocketAddress()
			if sa.GetAddress() != tt.addr || sa.GetPortValue() != 8080 || sa.GetIpv4Compat() != tt.ipv4Compat {
				t.Errorf("address %s:%d ipv4_compat=%v, want %s:8080 %v", sa.GetAddress(), sa.GetPortValue(), sa.GetIpv4Compat(), tt.addr, tt.ipv4Compat)
			}
			if want := tt.addr + "_8080"; l.GetName() != want {
				t.Errorf("name %s, want %s", l.GetName(), want)
			}
			if got := hcmOf(t, l).GetStatPrefix(); got != tt.addr+"_8080" {
				t.Errorf("stat prefix %s", got)
			}
			validateAll(t, res)
		})
	}
}

func TestCheckListenerAddress(t *testing.T) {
	for in, want := range map[string]string{"0.0.0.0": "0.0.0.0", "::0": "::", "::ffff:127.0.0.1": "::ffff:127.0.0.1"} {
		if got, err := CheckListenerAddress(in); err != nil || got != want {
			t.Errorf("CheckListenerAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "*", "localhost", "[::]", "10.0.0.1/8", "fe80::1%lo"} {
		if _, err := CheckListenerAddress(in); err == nil {
			t.Errorf("CheckListenerAddress(%q) accepted", in)
		}
	}
}
