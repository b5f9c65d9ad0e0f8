package policies

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadGuideDocuments(t *testing.T) {
	for _, tc := range []struct{ name, net, sec string }{
		{"v1beta1", "networking.istio.io/v1beta1", "security.istio.io/v1beta1"},
		{"v1", "networking.istio.io/v1", "security.istio.io/v1"},
		{"v1alpha3", "networking.istio.io/v1alpha3", "security.istio.io/v1beta1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			for _, name := range []string{"gateway.yaml", "virtualservice.yaml", "security.yaml"} {
				b, err := os.ReadFile(filepath.Join("testdata", "guide", name))
				if err != nil {
					t.Fatal(err)
				}
				s := strings.ReplaceAll(string(b), "networking.istio.io/v1beta1", tc.net)
				files[name] = strings.ReplaceAll(s, "security.istio.io/v1beta1", tc.sec)
			}
			dir := writeTree(t, files)
			set := mustLoad(t, dir)

			if len(set.Gateways) != 1 || len(set.VirtualServices) != 1 ||
				len(set.RequestAuthentications) != 1 || len(set.AuthorizationPolicies) != 2 {
				t.Fatalf("counts = %d/%d/%d/%d, want 1/1/1/2", len(set.Gateways), len(set.VirtualServices),
					len(set.RequestAuthentications), len(set.AuthorizationPolicies))
			}
			gw := set.Gateways[0]
			wantGW := GatewaySpec{
				Selector: map[string]string{"istio": "ingressgateway"},
				Servers:  []Server{{Port: Port{Number: 80, Protocol: "HTTP", Name: "http"}, Hosts: []string{"*"}}},
			}
			if !reflect.DeepEqual(gw.Spec, wantGW) {
				t.Errorf("gateway spec = %+v, want %+v", gw.Spec, wantGW)
			}
			if gw.Metadata.Name != "httpbin-gateway" || gw.Metadata.Namespace != "default" ||
				gw.Kind != KindGateway || gw.APIVersion != tc.net {
				t.Errorf("gateway meta = %+v %+v", gw.TypeMeta, gw.Metadata)
			}
			if gw.Origin.File != filepath.Join(dir, "gateway.yaml") || gw.Origin.Line != 1 {
				t.Errorf("gateway origin = %+v", gw.Origin)
			}
			vs := set.VirtualServices[0]
			wantVS := VirtualServiceSpec{
				Hosts:    []string{"*"},
				Gateways: []string{"httpbin-gateway"},
				HTTP: []HTTPRoute{{Route: []HTTPRouteDestination{{
					Destination: Destination{Host: "httpbin", Port: &PortSelector{Number: 8000}},
				}}}},
			}
			if !reflect.DeepEqual(vs.Spec, wantVS) {
				t.Errorf("virtualservice spec = %+v, want %+v", vs.Spec, wantVS)
			}
			ra := set.RequestAuthentications[0]
			if ra.Metadata.Namespace != "istio-system" || len(ra.Spec.JWTRules) != 1 ||
				ra.Spec.JWTRules[0].Issuer != "testing@asm.test.io" || ra.Spec.JWTRules[0].Jwks != guideJWKS ||
				!ra.Spec.Selector.Matches(map[string]string{"istio": "ingressgateway"}) {
				t.Errorf("request authentication = %+v", ra)
			}
			// sorted by name: require-issuer-subject < require-jwt
			ap0, ap1 := set.AuthorizationPolicies[0], set.AuthorizationPolicies[1]
			if ap0.Metadata.Name != "require-issuer-subject" || ap1.Metadata.Name != "require-jwt" {
				t.Fatalf("policy order = %s, %s", ap0.Metadata.Name, ap1.Metadata.Name)
			}
			if got := ap1.Spec.Rules[0].From[0].Source.RequestPrincipals; !reflect.DeepEqual(got, []string{"*"}) {
				t.Errorf("require-jwt principals = %v", got)
			}
			if got := ap0.Spec.Rules[0].From[0].Source.RequestPrincipals; !reflect.DeepEqual(got, []string{"testing@asm.test.io/demo@asm.test.io"}) {
				t.Errorf("require-issuer-subject principals = %v", got)
			}
			if ap0.Origin.Line != 30 {
				t.Errorf("second document origin line = %d, want 30", ap0.Origin.Line)
			}
			if len(set.Warnings) != 0 {
				t.Errorf("warnings = %v", set.Warnings)
			}
			if len(set.Hash) != 64 {
				t.Errorf("hash = %q", set.Hash)
			}
		})
	}
}
