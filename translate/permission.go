package translate

import (
	"fmt"
	"strconv"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"

	"github.com/jwtgate/jwtgate/policies"
)

// operationPermission is the AND of an Operation's fields in a rule of an
// rbac filter with the given action: hosts match :authority
// case-insensitively (the port is not stripped), methods match :method,
// ports the destination port, and paths the URL path without query string
// and fragment (url_path), after the listener's path normalization.
//
// Paths also account for path parameters (";", see pathparams.go): where a
// match denies or narrows access (paths in DENY and AUDIT, notPaths in
// ALLOW) a value matches its variants with parameters on any segment, and
// the field also matches any path with a "." or ".." segment carrying
// parameters; where a match grants access (paths in ALLOW, notPaths in
// DENY and AUDIT) a prefix or suffix value does not match a path with ";".
func operationPermission(o policies.Operation, action rbacv3.RBAC_Action) (*rbacv3.Permission, error) {
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
	}
	for _, st := range steps {
		if and, err = fieldPerms(and, st.values, st.negate, st.one); err != nil {
			return nil, err
		}
	}
	paths, notPaths := pathUses(action)
	and = pathFieldPerms(and, o.Paths, false, paths)
	and = pathFieldPerms(and, o.NotPaths, true, notPaths)
	return andPerms(and), nil
}

// pathFieldPerms is fieldPerms for paths or notPaths used as use says: OR
// over the values (plus dotParamsPerm when restrictive, unless a value is
// "*", which matches every path anyway), negated for
// notPaths. Empty values add nothing.
func pathFieldPerms(and []*rbacv3.Permission, values []string, negate bool, use pathUse) []*rbacv3.Permission {
	if len(values) == 0 {
		return and
	}
	var or []*rbacv3.Permission
	anyPath := false
	for _, v := range values {
		anyPath = anyPath || v == "*"
		if use == pathRestrictive {
			or = append(or, restrictivePathPerm(v))
		} else {
			or = append(or, permissivePathPerm(v))
		}
	}
	if use == pathRestrictive && !anyPath {
		or = append(or, dotParamsPerm())
	}
	p := orPerms(or)
	if negate {
		p = notPerm(p)
	}
	return append(and, p)
}

func hostPerm(v string) (*rbacv3.Permission, error) {
	return &rbacv3.Permission{Rule: &rbacv3.Permission_Header{Header: headerMatcher(":authority", v, true)}}, nil
}

func methodPerm(v string) (*rbacv3.Permission, error) {
	return &rbacv3.Permission{Rule: &rbacv3.Permission_Header{Header: headerMatcher(":method", v, false)}}, nil
}

func portPerm(v string) (*rbacv3.Permission, error) {
	n, err := strconv.ParseUint(v, 10, 16)
	if err != nil || n == 0 {
		return nil, fmt.Errorf("bad port %q", v)
	}
	return &rbacv3.Permission{Rule: &rbacv3.Permission_DestinationPort{DestinationPort: uint32(n)}}, nil
}
