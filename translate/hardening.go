package translate

import (
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Edge limits from Envoy's "Configuring Envoy as an edge proxy" best
// practices (docs/root/configuration/best_practices/edge.rst and its
// _include/edge.yaml). See hardenEdge.
const (
	// connectionBufferLimit is per_connection_buffer_limit_bytes of every
	// listener and cluster (32 KiB).
	connectionBufferLimit = 32 * 1024
	// h2MaxConcurrentStreams caps the streams of one HTTP/2 connection.
	h2MaxConcurrentStreams = 100
	// h2InitialStreamWindow is the HTTP/2 per-stream flow-control window
	// (64 KiB).
	h2InitialStreamWindow = 64 * 1024
	// h2InitialConnectionWindow is the HTTP/2 per-connection window (1 MiB).
	h2InitialConnectionWindow = 1024 * 1024
	// connectionIdleTimeout closes a downstream connection with no active
	// request.
	connectionIdleTimeout = time.Hour
	// streamIdleTimeout and requestTimeout bound a stream without activity
	// and the time to receive a whole request.
	streamIdleTimeout = 5 * time.Minute
	requestTimeout    = 5 * time.Minute
	// requestHeadersTimeout bounds the time to receive the request headers.
	requestHeadersTimeout = 10 * time.Second
)

// hardenEdge applies Envoy's edge-proxy recommendations to h, on top of
// the path hardening and use_remote_address that connectionManager sets:
//
//   - common_http_protocol_options.headers_with_underscores_action
//     REJECT_REQUEST: a request with a header name containing "_" gets
//     400. Some upstreams (CGI, WSGI, PHP, nginx with
//     underscores_in_headers) treat "_" and "-" alike, so "x_jwt_sub"
//     would reach them as the identity header "x-jwt-sub" that jwt_authn
//     owns and stripHeaders removes. Envoy's advice is REJECT_REQUEST; we
//     follow it rather than DROP_HEADER because a visible 400 is better
//     than a request silently changed before authorization (a `when:
//     request.headers[a_b]` condition would otherwise never see its
//     header), and the guide's requests send no such header.
//   - common_http_protocol_options.idle_timeout 3600s: connections with no
//     active request are closed (Envoy's edge value; it is also the
//     default, set explicitly so the output says so).
//   - stream_idle_timeout 300s and request_timeout 300s: a client cannot
//     hold a stream open by trickling a request (slowloris). Long-lived or
//     streaming requests would need them disabled; the guide has none.
//   - request_headers_timeout 10s: the headers must arrive within 10s of
//     the first byte (not in Envoy's example, which leaves it unset; its
//     timeout guidance names it for edge use).
//   - http2_protocol_options max_concurrent_streams 100,
//     initial_stream_window_size 64 KiB, initial_connection_window_size
//     1 MiB: bound the memory one HTTP/2 client can make Envoy buffer
//     (Envoy's defaults are 2^31-1 streams and 256 MiB windows).
//   - server_name: the server response header (Istio's gateways answer
//     "istio-envoy"); server_header_transformation stays OVERWRITE (the
//     default), so an upstream cannot advertise itself through the edge.
//
// The listener and the clusters get per_connection_buffer_limit_bytes
// 32 KiB (connectionBufferLimit) in buildListener and buildCluster.
func hardenEdge(h *hcmv3.HttpConnectionManager, opts Options) {
	h.ServerName = opts.ServerName
	h.CommonHttpProtocolOptions = &corev3.HttpProtocolOptions{
		IdleTimeout:                  durationpb.New(connectionIdleTimeout),
		HeadersWithUnderscoresAction: corev3.HttpProtocolOptions_REJECT_REQUEST,
	}
	h.Http2ProtocolOptions = &corev3.Http2ProtocolOptions{
		MaxConcurrentStreams:        wrapperspb.UInt32(h2MaxConcurrentStreams),
		InitialStreamWindowSize:     wrapperspb.UInt32(h2InitialStreamWindow),
		InitialConnectionWindowSize: wrapperspb.UInt32(h2InitialConnectionWindow),
	}
	h.StreamIdleTimeout = durationpb.New(streamIdleTimeout)
	h.RequestTimeout = durationpb.New(requestTimeout)
	h.RequestHeadersTimeout = durationpb.New(requestHeadersTimeout)
}
