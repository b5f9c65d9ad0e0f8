package translate

import (
	"slices"
	"testing"
)

func TestIntersectHost(t *testing.T) {
	tests := []struct{ vs, gw, want string }{
		{"*", "*", "*"},
		{"a.com", "*", "a.com"},
		{"*", "a.com", "a.com"},
		{"A.com", "a.COM", "a.com"},
		{"b.a.com", "*.a.com", "b.a.com"},
		{"*.a.com", "b.a.com", "b.a.com"},
		{"*.b.a.com", "*.a.com", "*.b.a.com"},
		{"*.a.com", "*.b.a.com", "*.b.a.com"},
		{"a.com", "*.a.com", ""},
		{"a.com", "b.com", ""},
		{"*.a.com", "*.b.com", ""},
	}
	for _, tt := range tests {
		if got := intersectHost(tt.vs, tt.gw); got != tt.want {
			t.Errorf("intersectHost(%q, %q) = %q, want %q", tt.vs, tt.gw, got, tt.want)
		}
	}
}

func TestServerHostAndDomains(t *testing.T) {
	for in, want := range map[string]string{"ns/a.com": "a.com", "./a.com": "a.com", "*/*": "*", "a.com": "a.com"} {
		if got := serverHost(in); got != want {
			t.Errorf("serverHost(%q) = %q, want %q", in, got, want)
		}
	}
	if got := domains("*"); !slices.Equal(got, []string{"*"}) {
		t.Errorf("domains(*) = %v", got)
	}
	if got := domains("a.com"); !slices.Equal(got, []string{"a.com", "a.com:*"}) {
		t.Errorf("domains(a.com) = %v", got)
	}
}
