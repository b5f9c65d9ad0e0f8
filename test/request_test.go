package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// response is what the gateway answered.
type response struct {
	status int
	header http.Header
	body   string
}

// request sends one HTTP/1.1 request with the request-target written
// verbatim (so "/a/../b" and "%2F" reach Envoy exactly as written, like
// curl --path-as-is) on a fresh connection that is closed afterwards (a
// kept-alive connection would keep an old listener's filter chain).
// auth is the Authorization header value, none if empty; extra are more
// header lines ("Name: value"). The Host header is addr unless extra holds
// a Host line, which then replaces it (virtual host tests).
func request(addr, method, target, auth string, extra ...string) (*response, error) {
	if target == "" {
		// addr may carry a path: "127.0.0.1:9901/stats?filter=x".
		if i := strings.IndexByte(addr, '/'); i >= 0 {
			addr, target = addr[:i], addr[i:]
		} else {
			target = "/"
		}
	}
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	host := addr
	for _, h := range extra {
		if name, _, ok := strings.Cut(h, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "host") {
			host = ""
		}
	}
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, target)
	if host != "" {
		fmt.Fprintf(&b, "Host: %s\r\n", host)
	}
	b.WriteString("User-Agent: jwtgate-e2e\r\nAccept: */*\r\nConnection: close\r\n")
	if auth != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", auth)
	}
	for _, h := range extra {
		fmt.Fprintf(&b, "%s\r\n", h)
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: string(body)}, nil
}

// row is one line of the guide's tables: a request and what must come back.
type row struct {
	name   string
	method string   // default GET
	path   string   // request-target, default "/"
	auth   string   // Authorization header value, none if empty
	header []string // more request headers, "Name: value"

	want   int   // exact status expected (unless oneOf or denied is set)
	oneOf  []int // any of these statuses
	denied bool  // anything but a 2xx answer is fine (bypass attempts)

	challengePrefix   string // www-authenticate must start with this
	challengeContains string // www-authenticate must contain this
	challengeLacks    string // www-authenticate must not contain this
	noChallenge       bool   // no www-authenticate at all (e.g. RBAC's 403)
	bodyContains      string
	bodyLacks         string // e.g. a token the gateway must not forward

	// verify, if set, checks the answer further and describes a mismatch
	// ("" if fine); it runs after the status and header checks.
	verify func(*response) string
}

// bearer is the Authorization value for a token.
func bearer(token string) string { return "Bearer " + token }

// check sends the row's request to addr and describes any mismatch ("" if
// the answer is as expected).
func (r row) check(addr string) string {
	method, path := r.method, r.path
	if method == "" {
		method = "GET"
	}
	if path == "" {
		path = "/"
	}
	label := fmt.Sprintf("%s (%s %s)", r.name, method, path)
	resp, err := request(addr, method, path, r.auth, r.header...)
	if err != nil {
		return fmt.Sprintf("%s: %v", label, err)
	}
	switch {
	case r.denied && resp.status >= 200 && resp.status < 300:
		return fmt.Sprintf("%s: got %d, want a denial (not 2xx); body %.120q", label, resp.status, resp.body)
	case len(r.oneOf) > 0 && !slices.Contains(r.oneOf, resp.status):
		return fmt.Sprintf("%s: got %d, want one of %v; body %.120q", label, resp.status, r.oneOf, resp.body)
	case !r.denied && len(r.oneOf) == 0 && resp.status != r.want:
		return fmt.Sprintf("%s: got %d, want %d; www-authenticate %q; body %.120q",
			label, resp.status, r.want, resp.header.Get("www-authenticate"), resp.body)
	}
	challenge := resp.header.Get("www-authenticate")
	if r.challengePrefix != "" && !strings.HasPrefix(challenge, r.challengePrefix) {
		return fmt.Sprintf("%s: www-authenticate %q, want prefix %q", label, challenge, r.challengePrefix)
	}
	if r.challengeContains != "" && !strings.Contains(challenge, r.challengeContains) {
		return fmt.Sprintf("%s: www-authenticate %q, want it to contain %q", label, challenge, r.challengeContains)
	}
	if r.challengeLacks != "" && strings.Contains(challenge, r.challengeLacks) {
		return fmt.Sprintf("%s: www-authenticate %q, must not contain %q", label, challenge, r.challengeLacks)
	}
	if r.noChallenge && len(resp.header.Values("www-authenticate")) > 0 {
		return fmt.Sprintf("%s: www-authenticate %q, want none", label, challenge)
	}
	if r.bodyContains != "" && method != "HEAD" && !strings.Contains(resp.body, r.bodyContains) {
		return fmt.Sprintf("%s: body %.200q, want it to contain %q", label, resp.body, r.bodyContains)
	}
	if r.bodyLacks != "" && strings.Contains(resp.body, r.bodyLacks) {
		return fmt.Sprintf("%s: body contains %.40q, which must not reach the backend", label, r.bodyLacks)
	}
	if r.verify != nil {
		if msg := r.verify(resp); msg != "" {
			return label + ": " + msg
		}
	}
	return ""
}
