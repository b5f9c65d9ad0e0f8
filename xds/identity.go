package xds

import (
	"net/url"
	"sort"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/jwtgate/jwtgate/policies"
)

// NodeIdentity reads a gateway's identity from its bootstrap node metadata:
// metadata.namespace (default istio-system) and metadata.labels (a map of
// strings; entries with non-string values are ignored).
func NodeIdentity(node *corev3.Node) policies.Identity {
	id := policies.Identity{Namespace: policies.DefaultRootNamespace, Labels: map[string]string{}}
	fields := node.GetMetadata().GetFields()
	if ns := fields["namespace"].GetStringValue(); ns != "" {
		id.Namespace = ns
	}
	if labels, ok := fields["labels"].GetKind().(*structpb.Value_StructValue); ok {
		for k, v := range labels.StructValue.GetFields() {
			if s, ok := v.GetKind().(*structpb.Value_StringValue); ok {
				id.Labels[k] = s.StringValue
			}
		}
	}
	return id
}

// GroupKey is the snapshot cache key of an identity: a stable, unambiguous
// string such as istio-system{istio=ingressgateway} (labels sorted, every
// part query-escaped), so gateways with equal identity share one snapshot
// whatever their node ids.
func GroupKey(id policies.Identity) string {
	keys := make([]string, 0, len(id.Labels))
	for k := range id.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(url.QueryEscape(id.Namespace))
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(id.Labels[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// nodeHash groups nodes by identity for the snapshot cache.
type nodeHash struct{}

// ID implements cache.NodeHash.
func (nodeHash) ID(node *corev3.Node) string { return GroupKey(NodeIdentity(node)) }
