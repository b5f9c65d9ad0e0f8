package translate

import (
	"fmt"

	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/jwtgate/jwtgate/policies"
)

// routerFilterName is Envoy's terminal router filter.
const routerFilterName = "envoy.filters.http.router"

// chain is the HTTP filter chain shared by every listener of a gateway.
type chain struct {
	filters []*hcmv3.HttpFilter
	// challenge lists the rbac response code details of denials that a
	// valid token could have avoided (see tokenDenials).
	challenge []string
}

// httpFilters builds the chain: header_mutation (when a JWT rule writes
// request headers, see stripHeaders), jwt_authn (when a
// RequestAuthentication applies), rbac AUDIT, DENY, ALLOW (each when a
// policy has that action), router.
func httpFilters(set *policies.Set, id policies.Identity, opts Options) (*chain, error) {
	c := &chain{}
	rules := appliedJWTRules(set, id, opts.RootNamespace)
	if strip := stripHeaders(rules); strip != nil {
		f, err := typedFilter(headerMutationFilterName, strip)
		if err != nil {
			return nil, err
		}
		c.filters = append(c.filters, f)
	}
	jwt, err := jwtAuthn(rules, opts)
	if err != nil {
		return nil, err
	}
	if jwt != nil {
		f, err := typedFilter(jwtFilterName, jwt)
		if err != nil {
			return nil, err
		}
		c.filters = append(c.filters, f)
	}
	rbacs, challenge, err := rbacFilters(set, id, opts.RootNamespace)
	if err != nil {
		return nil, err
	}
	for _, r := range rbacs {
		f, err := typedFilter(rbacFilterName, r)
		if err != nil {
			return nil, err
		}
		c.filters = append(c.filters, f)
	}
	c.challenge = challenge
	f, err := typedFilter(routerFilterName, &routerv3.Router{})
	if err != nil {
		return nil, err
	}
	c.filters = append(c.filters, f)
	return c, nil
}

// typedFilter wraps cfg as an HTTP filter's typed_config.
func typedFilter(name string, cfg proto.Message) (*hcmv3.HttpFilter, error) {
	a, err := anyOf(cfg)
	if err != nil {
		return nil, err
	}
	return &hcmv3.HttpFilter{Name: name, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: a}}, nil
}

// anyOf packs m into an Any with deterministic bytes.
func anyOf(m proto.Message) (*anypb.Any, error) {
	a := &anypb.Any{}
	if err := anypb.MarshalFrom(a, m, proto.MarshalOptions{Deterministic: true}); err != nil {
		return nil, fmt.Errorf("translate: pack %T: %w", m, err)
	}
	return a, nil
}
