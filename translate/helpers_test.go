package translate

import (
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"encoding/json"

	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/jwtgate/jwtgate/policies"
)

// compact is m as compact protojson with stable spacing, for assertions.
func compact(t *testing.T, m proto.Message) string {
	t.Helper()
	b, err := protojson.MarshalOptions{}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	// protojson randomizes whitespace; normalise through a re-marshal.
	var v map[string]any
	if err := jsonUnmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, err := jsonMarshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

var gatewayID = policies.Identity{Namespace: "istio-system", Labels: map[string]string{"istio": "ingressgateway"}}

func meta(ns, name string) policies.ObjectMeta { return policies.ObjectMeta{Namespace: ns, Name: name} }

// guideSet is the guide's Gateway and VirtualService plus extra documents.
func guideSet(extra func(*policies.Set)) *policies.Set {
	s := &policies.Set{
		Gateways: []*policies.Gateway{{
			Metadata: meta("default", "httpbin-gateway"),
			Spec: policies.GatewaySpec{
				Selector: map[string]string{"istio": "ingressgateway"},
				Servers:  []policies.Server{{Port: policies.Port{Number: 80, Protocol: "HTTP"}, Hosts: []string{"*"}}},
			},
		}},
		VirtualServices: []*policies.VirtualService{{
			Metadata: meta("default", "httpbin"),
			Spec: policies.VirtualServiceSpec{
				Hosts:    []string{"*"},
				Gateways: []string{"httpbin-gateway"},
				HTTP: []policies.HTTPRoute{{Route: []policies.HTTPRouteDestination{{
					Destination: policies.Destination{Host: "httpbin", Port: &policies.PortSelector{Number: 8000}},
				}}}},
			},
		}},
	}
	if extra != nil {
		extra(s)
	}
	return s
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
func jsonMarshal(v any) ([]byte, error)   { return json.Marshal(v) }

type policiesAP = policies.AuthorizationPolicy

func allowAP(name, action string, rules ...policies.Rule) *policies.AuthorizationPolicy {
	return &policies.AuthorizationPolicy{Metadata: meta("istio-system", name), Spec: policies.AuthorizationPolicySpec{Action: action, Rules: rules}}
}

func requestPrincipalsRule(v string, not bool) policies.Rule {
	s := policies.Source{RequestPrincipals: []string{v}}
	if not {
		s = policies.Source{NotRequestPrincipals: []string{v}}
	}
	return policies.Rule{From: []policies.RuleFrom{{Source: s}}}
}

func pathRule(p string) policies.Rule {
	return policies.Rule{To: []policies.RuleTo{{Operation: policies.Operation{Paths: []string{p}}}}}
}

// hcmFilters returns the HTTP filters of m when it is an HTTP connection
// manager.
func hcmFilters(t *testing.T, m proto.Message) []*hcmv3.HttpFilter {
	t.Helper()
	if h, ok := m.(*hcmv3.HttpConnectionManager); ok {
		return h.GetHttpFilters()
	}
	return nil
}

// hcmOf unpacks the HTTP connection manager of listener l.
func hcmOf(t *testing.T, l *listenerv3.Listener) *hcmv3.HttpConnectionManager {
	t.Helper()
	h := &hcmv3.HttpConnectionManager{}
	if err := l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(h); err != nil {
		t.Fatal(err)
	}
	return h
}
