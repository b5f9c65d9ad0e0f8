package translate

import (
	"encoding/json"
	"errors"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	sigsyaml "sigs.k8s.io/yaml"
)

// MarshalYAML renders res as YAML: a mapping with the sections clusters,
// listeners and routes, each a list of resources in res's order (sorted by
// name), each resource in its protojson form (lowerCamelCase field names,
// typed configs with "@type"). Mapping keys are sorted, so the same
// Resources always give the same bytes. The golden files in
// testdata/*.out.yaml are this rendering; so is `jwtgate render`.
func MarshalYAML(res *Resources) ([]byte, error) {
	if res == nil {
		return nil, errors.New("translate: no resources to render")
	}
	sections := map[string][]json.RawMessage{
		"clusters":  {},
		"listeners": {},
		"routes":    {},
	}
	add := func(section string, m proto.Message) error {
		b, err := protojson.Marshal(m)
		if err != nil {
			return err
		}
		sections[section] = append(sections[section], b)
		return nil
	}
	for _, c := range res.Clusters {
		if err := add("clusters", c); err != nil {
			return nil, err
		}
	}
	for _, l := range res.Listeners {
		if err := add("listeners", l); err != nil {
			return nil, err
		}
	}
	for _, r := range res.Routes {
		if err := add("routes", r); err != nil {
			return nil, err
		}
	}
	// encoding/json sorts map keys; JSONToYAML keeps JSON object order.
	j, err := json.Marshal(sections)
	if err != nil {
		return nil, err
	}
	return sigsyaml.JSONToYAML(j)
}
