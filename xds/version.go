package xds

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"github.com/jwtgate/jwtgate/translate"
)

// Version is the content version of a gateway's resources: the first 16 hex
// digits of a SHA-256 over the deterministic protobuf encoding of every
// resource, types in a fixed order (clusters, routes, listeners), each
// length-prefixed. Equal resources give equal versions, so a restarted
// jwtgate or a second replica never makes Envoy see a change that is not one.
func Version(res *translate.Resources) (string, error) {
	h := sha256.New()
	opts := proto.MarshalOptions{Deterministic: true}
	for _, group := range resourceGroups(res) {
		writeChunk(h, []byte(group.typeURL))
		writeLen(h, len(group.items))
		for _, m := range group.items {
			b, err := opts.Marshal(m)
			if err != nil {
				return "", err
			}
			writeChunk(h, b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

type typedGroup struct {
	typeURL string
	items   []proto.Message
}

// resourceGroups lists the resources by type, in version order.
func resourceGroups(res *translate.Resources) []typedGroup {
	clusters := make([]proto.Message, 0, len(res.Clusters))
	for _, c := range res.Clusters {
		clusters = append(clusters, c)
	}
	routes := make([]proto.Message, 0, len(res.Routes))
	for _, r := range res.Routes {
		routes = append(routes, r)
	}
	listeners := make([]proto.Message, 0, len(res.Listeners))
	for _, l := range res.Listeners {
		listeners = append(listeners, l)
	}
	return []typedGroup{
		{resource.ClusterType, clusters},
		{resource.RouteType, routes},
		{resource.ListenerType, listeners},
	}
}

func writeLen(h io.Writer, n int) {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(n))
	h.Write(buf[:])
}

func writeChunk(h io.Writer, b []byte) {
	writeLen(h, len(b))
	h.Write(b)
}
