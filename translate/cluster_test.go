package translate

import (
	"testing"

	"github.com/jwtgate/jwtgate/policies"
)

func TestBuildCluster(t *testing.T) {
	tests := []struct {
		name, host string
		port       uint32
		resolve    map[string]string
		want       string
	}{
		{"dns", "httpbin.default.svc", 8000, nil,
			`{"connectTimeout":"5s","dnsLookupFamily":"V4_PREFERRED","loadAssignment":{"clusterName":"c","endpoints":[{"lbEndpoints":[{"endpoint":{"address":{"socketAddress":{"address":"httpbin.default.svc","portValue":8000}}}}]}]},"name":"c","perConnectionBufferLimitBytes":32768,"type":"STRICT_DNS"}`},
		{"ip literal", "10.0.0.1", 80, nil,
			`{"connectTimeout":"5s","loadAssignment":{"clusterName":"c","endpoints":[{"lbEndpoints":[{"endpoint":{"address":{"socketAddress":{"address":"10.0.0.1","portValue":80}}}}]}]},"name":"c","perConnectionBufferLimitBytes":32768,"type":"STATIC"}`},
		{"resolve ip keeps port", "httpbin", 8000, map[string]string{"httpbin": "127.0.0.1"},
			`{"connectTimeout":"5s","loadAssignment":{"clusterName":"c","endpoints":[{"lbEndpoints":[{"endpoint":{"address":{"socketAddress":{"address":"127.0.0.1","portValue":8000}}}}]}]},"name":"c","perConnectionBufferLimitBytes":32768,"type":"STATIC"}`},
		{"resolve ip:port", "httpbin", 8000, map[string]string{"httpbin": "[::1]:34567"},
			`{"connectTimeout":"5s","loadAssignment":{"clusterName":"c","endpoints":[{"lbEndpoints":[{"endpoint":{"address":{"socketAddress":{"address":"::1","portValue":34567}}}}]}]},"name":"c","perConnectionBufferLimitBytes":32768,"type":"STATIC"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := buildCluster("c", tt.host, tt.port, tt.resolve)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.ValidateAll(); err != nil {
				t.Fatal(err)
			}
			if got := compact(t, c); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	for _, bad := range []string{"httpbin", "1.2.3.4:0", "1.2.3.4:99999", "[::1]"} {
		if _, err := buildCluster("c", "h", 80, map[string]string{"h": bad}); err == nil {
			t.Errorf("resolve %q: want error", bad)
		}
	}
}

func TestClusterSetDeduplicatesAndSorts(t *testing.T) {
	cs := newClusterSet(Options{})
	for _, d := range []policies.Destination{
		{Host: "b", Port: &policies.PortSelector{Number: 80}},
		{Host: "a"},
		{Host: "b", Port: &policies.PortSelector{Number: 80}},
	} {
		if _, err := cs.add(d); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for _, c := range cs.sorted() {
		names = append(names, c.GetName())
	}
	if len(names) != 2 || names[0] != "outbound|80||a" || names[1] != "outbound|80||b" {
		t.Fatalf("clusters = %v", names)
	}
}
