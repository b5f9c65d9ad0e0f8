package translate

import (
	"fmt"
	"regexp"
	"strings"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"

	"github.com/jwtgate/jwtgate/policies"
)

var (
	headerKey = regexp.MustCompile(`^request\.headers\[([^\[\]]+)\]$`)
	claimsKey = regexp.MustCompile(`^request\.auth\.claims((?:\[[^\[\]]+\])+)$`)
)

// condition converts one `when` entry: the key matches any of values
// (values OR) and none of notValues; both present means both must hold.
// It returns either a permission (destination.port, destination.ip,
// connection.sni) or a principal (every other key).
//
// Supported keys: request.headers[name], source.ip, remote.ip,
// request.auth.principal, request.auth.audiences (claim aud),
// request.auth.presenter (claim azp), request.auth.claims[a][b] (nested
// claim a.b), destination.ip, destination.port, connection.sni. Audiences,
// presenter and claims match a string value or any element of a list, like
// istiod. source.principal and source.namespace need an mTLS peer and never
// match at a plaintext ingress.
func condition(c policies.Condition) (*rbacv3.Permission, *rbacv3.Principal, error) {
	if perm, ok, err := permCondition(c); ok || err != nil {
		return perm, nil, err
	}
	one, err := principalFor(c.Key)
	if err != nil {
		return nil, nil, err
	}
	var and []*rbacv3.Principal
	if and, err = fieldIDs(and, c.Values, false, one); err != nil {
		return nil, nil, fmt.Errorf("when %s: %w", c.Key, err)
	}
	if and, err = fieldIDs(and, c.NotValues, true, one); err != nil {
		return nil, nil, fmt.Errorf("when %s: %w", c.Key, err)
	}
	return nil, andIDs(and), nil
}

// principalFor returns the per-value principal builder for a when key.
func principalFor(key string) (func(string) (*rbacv3.Principal, error), error) {
	if m := headerKey.FindStringSubmatch(key); m != nil {
		name := strings.ToLower(m[1])
		return func(v string) (*rbacv3.Principal, error) {
			return &rbacv3.Principal{Identifier: &rbacv3.Principal_Header{Header: headerMatcher(name, v, false)}}, nil
		}, nil
	}
	if m := claimsKey.FindStringSubmatch(key); m != nil {
		path := strings.Split(strings.Trim(m[1], "[]"), "][")
		return func(v string) (*rbacv3.Principal, error) { return claimPrincipal(path, v), nil }, nil
	}
	switch key {
	case "source.ip":
		return directRemoteIP, nil
	case "remote.ip":
		return remoteIP, nil
	case "request.auth.principal":
		return requestPrincipal, nil
	case "request.auth.audiences":
		return func(v string) (*rbacv3.Principal, error) { return claimPrincipal([]string{"aud"}, v), nil }, nil
	case "request.auth.presenter":
		return func(v string) (*rbacv3.Principal, error) { return claimPrincipal([]string{"azp"}, v), nil }, nil
	case "source.principal", "source.namespace":
		return func(string) (*rbacv3.Principal, error) { return neverID(), nil }, nil
	}
	return nil, fmt.Errorf("unsupported when key %q", key)
}

// permCondition handles the when keys that describe the destination.
func permCondition(c policies.Condition) (*rbacv3.Permission, bool, error) {
	var one func(string) (*rbacv3.Permission, error)
	switch c.Key {
	case "destination.port":
		one = portPerm
	case "destination.ip":
		one = func(v string) (*rbacv3.Permission, error) {
			r, err := cidr(v)
			if err != nil {
				return nil, err
			}
			return &rbacv3.Permission{Rule: &rbacv3.Permission_DestinationIp{DestinationIp: r}}, nil
		}
	case "connection.sni":
		one = func(v string) (*rbacv3.Permission, error) {
			return &rbacv3.Permission{Rule: &rbacv3.Permission_RequestedServerName{RequestedServerName: istioString(v, false)}}, nil
		}
	default:
		return nil, false, nil
	}
	var and []*rbacv3.Permission
	var err error
	if and, err = fieldPerms(and, c.Values, false, one); err != nil {
		return nil, true, fmt.Errorf("when %s: %w", c.Key, err)
	}
	if and, err = fieldPerms(and, c.NotValues, true, one); err != nil {
		return nil, true, fmt.Errorf("when %s: %w", c.Key, err)
	}
	return andPerms(and), true, nil
}
