package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// echoedHeaders parses go-httpbin's /headers answer: the request headers
// as the backend received them, {"headers": {"Name": ["value", ...]}}.
func echoedHeaders(resp *response) (http.Header, error) {
	var v struct {
		Headers http.Header `json:"headers"`
	}
	if err := json.Unmarshal([]byte(resp.body), &v); err != nil {
		return nil, fmt.Errorf("/headers answer is not httpbin's JSON: %v; body %.200q", err, resp.body)
	}
	h := http.Header{}
	for k, vs := range v.Headers {
		h[http.CanonicalHeaderKey(k)] = vs
	}
	return h, nil
}

// backendLacks checks that none of the named headers reached the backend.
func backendLacks(names ...string) func(*response) string {
	return func(resp *response) string {
		h, err := echoedHeaders(resp)
		if err != nil {
			return err.Error()
		}
		var bad []string
		for _, n := range names {
			if vs := h.Values(n); len(vs) > 0 {
				bad = append(bad, fmt.Sprintf("%s: %q", n, vs))
			}
		}
		if len(bad) > 0 {
			return "backend received " + strings.Join(bad, ", ") + "; want none (client-supplied identity header)"
		}
		return ""
	}
}

// backendGot checks that the backend received header name exactly once,
// with value want.
func backendGot(name, want string) func(*response) string {
	return func(resp *response) string {
		h, err := echoedHeaders(resp)
		if err != nil {
			return err.Error()
		}
		if vs := h.Values(name); !slices.Equal(vs, []string{want}) {
			return fmt.Sprintf("backend received %s: %q, want exactly [%q]", name, vs, want)
		}
		return ""
	}
}

// backendGotPayload checks that the backend received header name exactly
// once, holding a base64url JWT payload whose claim sub is sub.
func backendGotPayload(name, sub string) func(*response) string {
	return func(resp *response) string {
		h, err := echoedHeaders(resp)
		if err != nil {
			return err.Error()
		}
		vs := h.Values(name)
		if len(vs) != 1 {
			return fmt.Sprintf("backend received %s: %q, want one JWT payload", name, vs)
		}
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(vs[0], "="))
		if err != nil {
			return fmt.Sprintf("%s: %q is not base64url: %v", name, vs[0], err)
		}
		var claims map[string]any
		if err := json.Unmarshal(raw, &claims); err != nil {
			return fmt.Sprintf("%s: payload %q is not JSON: %v", name, raw, err)
		}
		if claims["sub"] != sub {
			return fmt.Sprintf("%s: payload sub %v, want %q", name, claims["sub"], sub)
		}
		return ""
	}
}

// all runs several verify functions and reports the first mismatch.
func all(checks ...func(*response) string) func(*response) string {
	return func(resp *response) string {
		for _, c := range checks {
			if msg := c(resp); msg != "" {
				return msg
			}
		}
		return ""
	}
}
