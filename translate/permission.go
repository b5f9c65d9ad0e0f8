package translate

import (
	"fmt"
	"strconv"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"

	"github.com/jwtgate/jwtgate/policies"
)

// operationPermission is the AND of an Operation's fields:
// hosts match :authority case-insensitively (the port is not stripped),
// methods match :method, ports the destination port, and paths the URL
// path without query string and fragment (url_path), after the listener's
// path normalization.
func operationPermission(o policies.Operation) (*rbacv3.Permission, error) {
	var and []*rbacv3.Permission
	var err error
	steps := []struct {
		values []string
		negate bool
		one    func(string) (*rbacv3.Permission, error)
	}{
		{o.Hosts, false, hostPerm},
		{o.NotHosts, true, hostPerm},
		{o.Ports, false, portPerm},
		{o.NotPorts, true, portPerm},
		{o.Methods, false, methodPerm},
		{o.NotMethods, true, methodPerm},
		{o.Paths, false, pathPerm},
		{o.NotPaths, true, pathPerm},
	}
	for _, st := range steps {
		if and, err = fieldPerms(and, st.values, st.negate, st.one); err != nil {
			return nil, err
		}
	}
	return andPerms(and), nil
}

func hostPerm(v string) (*rbacv3.Permission, error) {
	return &rbacv3.Permission{Rule: &rbacv3.Permission_Header{Header: headerMatcher(":authority", v, true)}}, nil
}

func methodPerm(v string) (*rbacv3.Permission, error) {
	return &rbacv3.Permission{Rule: &rbacv3.Permission_Header{Header: headerMatcher(":method", v, false)}}, nil
}

func pathPerm(v string) (*rbacv3.Permission, error) {
	return &rbacv3.Permission{Rule: &rbacv3.Permission_UrlPath{UrlPath: &matcherv3.PathMatcher{
		Rule: &matcherv3.PathMatcher_Path{Path: istioString(v, false)},
	}}}, nil
}

func portPerm(v string) (*rbacv3.Permission, error) {
	n, err := strconv.ParseUint(v, 10, 16)
	if err != nil || n == 0 {
		return nil, fmt.Errorf("bad port %q", v)
	}
	return &rbacv3.Permission{Rule: &rbacv3.Permission_DestinationPort{DestinationPort: uint32(n)}}, nil
}
