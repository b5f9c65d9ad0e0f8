package translate

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

func TestEdgeHardening(t *testing.T) {
	res, err := Translate(guideSet(nil), gatewayID, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := res.Listeners[0]
	if got := l.GetPerConnectionBufferLimitBytes().GetValue(); got != 32768 {
		t.Errorf("listener buffer limit = %d, want 32768", got)
	}
	for _, c := range res.Clusters {
		if got := c.GetPerConnectionBufferLimitBytes().GetValue(); got != 32768 {
			t.Errorf("cluster %s buffer limit = %d, want 32768", c.GetName(), got)
		}
	}
	h := hcmOf(t, l)
	checks := []struct {
		what      string
		got, want any
	}{
		{"server_name", h.GetServerName(), "istio-envoy"},
		{"server_header_transformation", h.GetServerHeaderTransformation(), hcmv3.HttpConnectionManager_OVERWRITE},
		{"headers_with_underscores_action", h.GetCommonHttpProtocolOptions().GetHeadersWithUnderscoresAction(), corev3.HttpProtocolOptions_REJECT_REQUEST},
		{"idle_timeout", h.GetCommonHttpProtocolOptions().GetIdleTimeout().AsDuration().String(), "1h0m0s"},
		{"stream_idle_timeout", h.GetStreamIdleTimeout().AsDuration().String(), "5m0s"},
		{"request_timeout", h.GetRequestTimeout().AsDuration().String(), "5m0s"},
		{"request_headers_timeout", h.GetRequestHeadersTimeout().AsDuration().String(), "10s"},
		{"max_concurrent_streams", h.GetHttp2ProtocolOptions().GetMaxConcurrentStreams().GetValue(), uint32(100)},
		{"initial_stream_window_size", h.GetHttp2ProtocolOptions().GetInitialStreamWindowSize().GetValue(), uint32(65536)},
		{"initial_connection_window_size", h.GetHttp2ProtocolOptions().GetInitialConnectionWindowSize().GetValue(), uint32(1048576)},
		// The path hardening of connectionManager is still there.
		{"normalize_path", h.GetNormalizePath().GetValue(), true},
		{"merge_slashes", h.GetMergeSlashes(), true},
		{"path_with_escaped_slashes_action", h.GetPathWithEscapedSlashesAction(), hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT},
		{"use_remote_address", h.GetUseRemoteAddress().GetValue(), true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if err := h.ValidateAll(); err != nil {
		t.Fatal(err)
	}
}

func TestServerNameOption(t *testing.T) {
	res, err := Translate(guideSet(nil), gatewayID, Options{ServerName: "edge/1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := hcmOf(t, res.Listeners[0]).GetServerName(); got != "edge/1" {
		t.Errorf("server_name = %q, want edge/1", got)
	}
}
