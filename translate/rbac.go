package translate

import (
	"fmt"
	"strconv"
	"strings"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	rbachttp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"

	"github.com/jwtgate/jwtgate/policies"
)

// rbacFilterName is Envoy's RBAC HTTP filter.
const rbacFilterName = "envoy.filters.http.rbac"

// rbacStage is one rbac filter in Istio's order: AUDIT, DENY, ALLOW.
type rbacStage struct {
	action     string
	envoy      rbacv3.RBAC_Action
	shadowStat string
}

// rbacStages are the rbac filters in chain order.
var rbacStages = []rbacStage{
	{policies.ActionAudit, rbacv3.RBAC_LOG, "istio_dry_run_audit_"},
	{policies.ActionDeny, rbacv3.RBAC_DENY, "istio_dry_run_deny_"},
	{policies.ActionAllow, rbacv3.RBAC_ALLOW, "istio_dry_run_allow_"},
}

// policyAction is the action of p; empty means ALLOW.
func policyAction(p *policies.AuthorizationPolicy) string {
	if p.Spec.Action == "" {
		return policies.ActionAllow
	}
	return strings.ToUpper(p.Spec.Action)
}

// isDryRun reports whether p's istio.io/dry-run annotation is true as
// strconv.ParseBool reads it ("1", "t", "T", "true", "TRUE", "True"), like
// istiod's isDryRun and exactly as the policies package validates it (an
// unparsable value never gets here; it would count as not dry-run).
func isDryRun(p *policies.AuthorizationPolicy) bool {
	v, ok := p.Metadata.Annotations[policies.AnnotationDryRun]
	if !ok {
		return false
	}
	dry, err := strconv.ParseBool(v)
	return err == nil && dry
}

// rbacPolicyName is the Istio-style name of rule i of policy p.
func rbacPolicyName(p *policies.AuthorizationPolicy, i int) string {
	return fmt.Sprintf("ns-%s-policy-%s-rule-%d", p.Metadata.Namespace, p.Metadata.Name, i)
}

// rbacFilters builds the rbac filter configs, in chain order, for every
// AuthorizationPolicy that applies to id. A stage appears only when at
// least one policy has its action. Dry-run policies go to shadow_rules
// (evaluated and counted, never enforced); a stage with only dry-run
// policies has no enforcing rules at all. An ALLOW policy without rules
// adds no Envoy policy, so an ALLOW filter made only of such policies
// matches nothing and denies every request. CUSTOM is rejected.
//
// It also returns the token-dependent denials (tokenDenials) of the
// enforced policies.
func rbacFilters(set *policies.Set, id policies.Identity, root string) ([]*rbachttp.RBAC, []string, error) {
	type split struct {
		enforced, dryRun []*policies.AuthorizationPolicy
	}
	byAction := map[string]*split{}
	for _, p := range sortedByMeta(set.AuthorizationPolicies, func(a *policies.AuthorizationPolicy) policies.ObjectMeta { return a.Metadata }) {
		if !policyApplies(p.Metadata.Namespace, p.Spec.Selector, id, root) {
			continue
		}
		a := policyAction(p)
		switch a {
		case policies.ActionAllow, policies.ActionDeny, policies.ActionAudit:
		case policies.ActionCustom:
			return nil, nil, fmt.Errorf("translate: AuthorizationPolicy %s/%s: action CUSTOM (ext_authz) is not supported", p.Metadata.Namespace, p.Metadata.Name)
		default:
			return nil, nil, fmt.Errorf("translate: AuthorizationPolicy %s/%s: unknown action %q", p.Metadata.Namespace, p.Metadata.Name, p.Spec.Action)
		}
		s := byAction[a]
		if s == nil {
			s = &split{}
			byAction[a] = s
		}
		if isDryRun(p) {
			s.dryRun = append(s.dryRun, p)
		} else {
			s.enforced = append(s.enforced, p)
		}
	}

	var out []*rbachttp.RBAC
	var challenge []string
	for _, st := range rbacStages {
		s := byAction[st.action]
		if s == nil {
			continue
		}
		cfg := &rbachttp.RBAC{}
		if len(s.enforced) > 0 {
			rules, err := rbacRules(st.envoy, s.enforced)
			if err != nil {
				return nil, nil, err
			}
			cfg.Rules = rules
			challenge = append(challenge, tokenDenials(st.action, s.enforced)...)
		}
		if len(s.dryRun) > 0 {
			rules, err := rbacRules(st.envoy, s.dryRun)
			if err != nil {
				return nil, nil, err
			}
			cfg.ShadowRules = rules
			cfg.ShadowRulesStatPrefix = st.shadowStat
		}
		out = append(out, cfg)
	}
	return out, challenge, nil
}

// rbacRules is one Envoy RBAC with a policy per rule of every p.
func rbacRules(action rbacv3.RBAC_Action, ps []*policies.AuthorizationPolicy) (*rbacv3.RBAC, error) {
	r := &rbacv3.RBAC{Action: action, Policies: map[string]*rbacv3.Policy{}}
	for _, p := range ps {
		for i, rule := range p.Spec.Rules {
			pol, err := rulePolicy(rule, action)
			if err != nil {
				return nil, fmt.Errorf("translate: AuthorizationPolicy %s/%s rules[%d]: %w", p.Metadata.Namespace, p.Metadata.Name, i, err)
			}
			r.Policies[rbacPolicyName(p, i)] = pol
		}
	}
	return r, nil
}

// rulePolicy converts one rule of an rbac filter with the given action:
// from (sources OR), to (operations OR) and every when condition must all
// match. An empty rule matches everything. The action decides how paths
// are matched (operationPermission).
func rulePolicy(r policies.Rule, action rbacv3.RBAC_Action) (*rbacv3.Policy, error) {
	var perms []*rbacv3.Permission
	var ids []*rbacv3.Principal
	if len(r.From) > 0 {
		var or []*rbacv3.Principal
		for _, f := range r.From {
			p, err := sourcePrincipal(f.Source)
			if err != nil {
				return nil, err
			}
			or = append(or, p)
		}
		ids = append(ids, orIDs(or))
	}
	if len(r.To) > 0 {
		var or []*rbacv3.Permission
		for _, t := range r.To {
			p, err := operationPermission(t.Operation, action)
			if err != nil {
				return nil, err
			}
			or = append(or, p)
		}
		perms = append(perms, orPerms(or))
	}
	for _, c := range r.When {
		perm, id, err := condition(c)
		if err != nil {
			return nil, err
		}
		if perm != nil {
			perms = append(perms, perm)
		}
		if id != nil {
			ids = append(ids, id)
		}
	}
	return &rbacv3.Policy{
		Permissions: []*rbacv3.Permission{andPerms(perms)},
		Principals:  []*rbacv3.Principal{andIDs(ids)},
	}, nil
}

// deniedDetails is the response code details of an rbac denial by policy
// name ("none" when an ALLOW filter matched no policy).
func deniedDetails(policy string) string {
	return "rbac_access_denied_matched_policy[" + policy + "]"
}

// tokenDenials returns the response code details of the denials of ps (one
// action) that depend on the request's JWT: for DENY, each rule that tests
// a request principal or a request.auth.* condition; for ALLOW, "no policy
// matched" when any of its rules does. A tokenless request denied for one
// of those gets the 401 challenge; any other denial (e.g. DENY on a path)
// stays 403, since no token could change it.
func tokenDenials(action string, ps []*policies.AuthorizationPolicy) []string {
	var out []string
	for _, p := range ps {
		for i, r := range p.Spec.Rules {
			if !usesToken(r) {
				continue
			}
			switch action {
			case policies.ActionDeny:
				out = append(out, deniedDetails(rbacPolicyName(p, i)))
			case policies.ActionAllow:
				return []string{deniedDetails("none")}
			}
		}
	}
	return out
}

// usesToken reports whether rule r tests the request's JWT.
func usesToken(r policies.Rule) bool {
	for _, f := range r.From {
		if len(f.Source.RequestPrincipals) > 0 || len(f.Source.NotRequestPrincipals) > 0 {
			return true
		}
	}
	for _, c := range r.When {
		if strings.HasPrefix(c.Key, "request.auth.") {
			return true
		}
	}
	return false
}
