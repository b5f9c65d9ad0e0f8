// Package policies holds the Istio-style documents jwtgate reads (Gateway,
// VirtualService, RequestAuthentication, AuthorizationPolicy), their strict
// decoding and validation, loading a directory tree into one immutable Set,
// and watching that tree for changes.
//
// Only the fields jwtgate honours are declared; any other field is a decoding
// error, so a document never silently means less than its author wrote. A
// field whose yaml tag has no ",omitempty" is required by the decoder.
package policies

import (
	"strconv"
	"strings"
)

// Kinds and API groups jwtgate understands.
const (
	KindGateway               = "Gateway"
	KindVirtualService        = "VirtualService"
	KindRequestAuthentication = "RequestAuthentication"
	KindAuthorizationPolicy   = "AuthorizationPolicy"

	GroupNetworking = "networking.istio.io"
	GroupSecurity   = "security.istio.io"

	// DefaultRootNamespace is Istio's default root namespace: a security
	// policy there without a selector applies to every gateway.
	DefaultRootNamespace = "istio-system"

	// AnnotationDryRun marks an AuthorizationPolicy as shadow-only.
	AnnotationDryRun = "istio.io/dry-run"
)

// Origin says where a document was read from. Line is 1-based and points at
// the document's first line. It is not part of the document's meaning.
type Origin struct {
	File string `yaml:"-"`
	Line int    `yaml:"-"`
}

// ObjectMeta is the subset of Kubernetes metadata jwtgate reads.
type ObjectMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// TypeMeta names a document's apiVersion and kind.
type TypeMeta struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
}

// Identity is who a gateway (one Envoy) says it is in its bootstrap:
// node.metadata.namespace and node.metadata.labels.
type Identity struct {
	Namespace string
	Labels    map[string]string
}

// WorkloadSelector selects gateways by label (security.istio.io).
type WorkloadSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels,omitempty"`
}

// ---------------------------------------------------------------- networking

// Gateway is networking.istio.io Gateway.
type Gateway struct {
	TypeMeta `yaml:",inline"`
	Metadata ObjectMeta  `yaml:"metadata"`
	Spec     GatewaySpec `yaml:"spec"`
	Origin   `yaml:"-"`
}

// GatewaySpec is the spec of a Gateway.
type GatewaySpec struct {
	// Selector is matched against a gateway's labels (in any namespace).
	Selector map[string]string `yaml:"selector,omitempty"`
	Servers  []Server          `yaml:"servers"`
}

// Server is one listening port of a Gateway.
type Server struct {
	Port  Port     `yaml:"port"`
	Hosts []string `yaml:"hosts"`
	Name  string   `yaml:"name,omitempty"`
}

// Port is a Gateway server port. Protocol HTTP is supported.
type Port struct {
	Number   uint32 `yaml:"number"`
	Protocol string `yaml:"protocol"`
	Name     string `yaml:"name,omitempty"`
}

// VirtualService is networking.istio.io VirtualService.
type VirtualService struct {
	TypeMeta `yaml:",inline"`
	Metadata ObjectMeta         `yaml:"metadata"`
	Spec     VirtualServiceSpec `yaml:"spec"`
	Origin   `yaml:"-"`
}

// VirtualServiceSpec is the spec of a VirtualService.
type VirtualServiceSpec struct {
	Hosts []string `yaml:"hosts"`
	// Gateways are "name" (same namespace as the VirtualService) or "ns/name".
	Gateways []string    `yaml:"gateways,omitempty"`
	HTTP     []HTTPRoute `yaml:"http,omitempty"`
}

// HTTPRoute is one ordered http rule of a VirtualService.
type HTTPRoute struct {
	Name  string                 `yaml:"name,omitempty"`
	Match []HTTPMatchRequest     `yaml:"match,omitempty"`
	Route []HTTPRouteDestination `yaml:"route,omitempty"`
}

// HTTPMatchRequest is one match condition; its fields AND, the list ORs.
type HTTPMatchRequest struct {
	Name          string                 `yaml:"name,omitempty"`
	URI           *StringMatch           `yaml:"uri,omitempty"`
	Method        *StringMatch           `yaml:"method,omitempty"`
	Authority     *StringMatch           `yaml:"authority,omitempty"`
	Headers       map[string]StringMatch `yaml:"headers,omitempty"`
	IgnoreURICase bool                   `yaml:"ignoreUriCase,omitempty"`
}

// StringMatch is exactly one of Exact, Prefix or Regex (RE2).
type StringMatch struct {
	Exact  string `yaml:"exact,omitempty"`
	Prefix string `yaml:"prefix,omitempty"`
	Regex  string `yaml:"regex,omitempty"`
}

// HTTPRouteDestination is a weighted destination.
type HTTPRouteDestination struct {
	Destination Destination `yaml:"destination"`
	Weight      int32       `yaml:"weight,omitempty"`
}

// Destination is a host and port. A host that is an IP literal becomes a
// STATIC cluster, any other name a DNS cluster.
type Destination struct {
	Host string        `yaml:"host"`
	Port *PortSelector `yaml:"port,omitempty"`
}

// PortSelector selects a destination port.
type PortSelector struct {
	Number uint32 `yaml:"number"`
}

// ------------------------------------------------------------------ security

// RequestAuthentication is security.istio.io RequestAuthentication.
type RequestAuthentication struct {
	TypeMeta `yaml:",inline"`
	Metadata ObjectMeta                `yaml:"metadata"`
	Spec     RequestAuthenticationSpec `yaml:"spec"`
	Origin   `yaml:"-"`
}

// RequestAuthenticationSpec is the spec of a RequestAuthentication.
type RequestAuthenticationSpec struct {
	Selector *WorkloadSelector `yaml:"selector,omitempty"`
	JWTRules []JWTRule         `yaml:"jwtRules,omitempty"`
}

// JWTRule describes one accepted issuer.
type JWTRule struct {
	Issuer                string          `yaml:"issuer"`
	Audiences             []string        `yaml:"audiences,omitempty"`
	JwksURI               string          `yaml:"jwksUri,omitempty"`
	Jwks                  string          `yaml:"jwks,omitempty"`
	FromHeaders           []JWTHeader     `yaml:"fromHeaders,omitempty"`
	FromParams            []string        `yaml:"fromParams,omitempty"`
	FromCookies           []string        `yaml:"fromCookies,omitempty"`
	OutputPayloadToHeader string          `yaml:"outputPayloadToHeader,omitempty"`
	ForwardOriginalToken  bool            `yaml:"forwardOriginalToken,omitempty"`
	OutputClaimToHeaders  []ClaimToHeader `yaml:"outputClaimToHeaders,omitempty"`
	// Timeout is a Go/protobuf duration string such as "5s"; default 5s.
	Timeout              string   `yaml:"timeout,omitempty"`
	SpaceDelimitedClaims []string `yaml:"spaceDelimitedClaims,omitempty"`
}

// KeysURL is where the keys of a rule without inline jwks come from: its
// jwksUri, or when that is empty the issuer's OIDC discovery document
// "<issuer>/.well-known/openid-configuration". It keys translate.Options.JWKS.
func (r JWTRule) KeysURL() string {
	if r.JwksURI != "" {
		return r.JwksURI
	}
	return strings.TrimSuffix(r.Issuer, "/") + "/.well-known/openid-configuration"
}

// JWTHeader is a header that carries the token, with an optional prefix.
type JWTHeader struct {
	Name   string `yaml:"name"`
	Prefix string `yaml:"prefix,omitempty"`
}

// ClaimToHeader copies a claim into a request header.
type ClaimToHeader struct {
	Header string `yaml:"header"`
	Claim  string `yaml:"claim"`
}

// Authorization actions.
const (
	ActionAllow  = "ALLOW"
	ActionDeny   = "DENY"
	ActionAudit  = "AUDIT"
	ActionCustom = "CUSTOM"
)

// AuthorizationPolicy is security.istio.io AuthorizationPolicy.
type AuthorizationPolicy struct {
	TypeMeta `yaml:",inline"`
	Metadata ObjectMeta              `yaml:"metadata"`
	Spec     AuthorizationPolicySpec `yaml:"spec"`
	Origin   `yaml:"-"`
}

// AuthorizationPolicySpec is the spec of an AuthorizationPolicy.
type AuthorizationPolicySpec struct {
	Selector *WorkloadSelector `yaml:"selector,omitempty"`
	// Action is ALLOW (default when empty), DENY or AUDIT. CUSTOM is rejected.
	Action string `yaml:"action,omitempty"`
	// Rules: an ALLOW policy with no rules denies everything; `rules: [{}]`
	// allows everything; DENY and AUDIT need at least one rule.
	Rules []Rule `yaml:"rules,omitempty"`
}

// Rule matches a request when from, to and when all match.
type Rule struct {
	From []RuleFrom  `yaml:"from,omitempty"`
	To   []RuleTo    `yaml:"to,omitempty"`
	When []Condition `yaml:"when,omitempty"`
}

// RuleFrom wraps a Source.
type RuleFrom struct {
	Source Source `yaml:"source"`
}

// Source describes who sends the request; fields AND, values OR.
type Source struct {
	Principals           []string `yaml:"principals,omitempty"`
	NotPrincipals        []string `yaml:"notPrincipals,omitempty"`
	RequestPrincipals    []string `yaml:"requestPrincipals,omitempty"`
	NotRequestPrincipals []string `yaml:"notRequestPrincipals,omitempty"`
	Namespaces           []string `yaml:"namespaces,omitempty"`
	NotNamespaces        []string `yaml:"notNamespaces,omitempty"`
	IPBlocks             []string `yaml:"ipBlocks,omitempty"`
	NotIPBlocks          []string `yaml:"notIpBlocks,omitempty"`
	RemoteIPBlocks       []string `yaml:"remoteIpBlocks,omitempty"`
	NotRemoteIPBlocks    []string `yaml:"notRemoteIpBlocks,omitempty"`
}

// RuleTo wraps an Operation.
type RuleTo struct {
	Operation Operation `yaml:"operation"`
}

// Operation describes what the request does; fields AND, values OR.
type Operation struct {
	Hosts      []string `yaml:"hosts,omitempty"`
	NotHosts   []string `yaml:"notHosts,omitempty"`
	Ports      []string `yaml:"ports,omitempty"`
	NotPorts   []string `yaml:"notPorts,omitempty"`
	Methods    []string `yaml:"methods,omitempty"`
	NotMethods []string `yaml:"notMethods,omitempty"`
	Paths      []string `yaml:"paths,omitempty"`
	NotPaths   []string `yaml:"notPaths,omitempty"`
}

// Condition is one `when` entry: key matches any of Values and none of NotValues.
type Condition struct {
	Key       string   `yaml:"key"`
	Values    []string `yaml:"values,omitempty"`
	NotValues []string `yaml:"notValues,omitempty"`
}

// DryRun reports whether the policy's istio.io/dry-run annotation is true
// as strconv.ParseBool reads it ("1", "t", "T", "TRUE", "true", "True"),
// like istiod's isDryRun. A dry-run policy is evaluated as Envoy shadow
// rules and never enforced. An absent annotation is false; validation
// rejects a value ParseBool cannot read, so a loaded Set never has one
// (it would count as false).
func (p *AuthorizationPolicy) DryRun() bool {
	v, ok := p.Metadata.Annotations[AnnotationDryRun]
	if !ok {
		return false
	}
	dry, err := strconv.ParseBool(v)
	return err == nil && dry
}

// ----------------------------------------------------------------------- set

// Set is one immutable, validated snapshot of every document in a policy
// tree. Each slice is sorted by (namespace, name). A Set is never mutated
// after Load returns it.
type Set struct {
	Gateways               []*Gateway
	VirtualServices        []*VirtualService
	RequestAuthentications []*RequestAuthentication
	AuthorizationPolicies  []*AuthorizationPolicy
	// Hash is a content hash (hex sha256) of every input file's path and bytes;
	// equal trees give equal hashes.
	Hash string
	// Files maps the slash-separated path of every file read, relative to
	// the policy directory (the base name when a single file was loaded),
	// to the hex sha256 of its bytes. Files without documents are listed
	// too. It tells what changed between two Sets (see ChangedFiles).
	Files map[string]string
	// Warnings are non-fatal findings, each "file:line: field: message"
	// (line and field omitted when the finding concerns a whole file or
	// directory): a field that can never match at a plaintext ingress, or,
	// like istioctl analyze, a policy that does nothing in this tree (no
	// namespace, a selector or gateway reference that matches nothing, an
	// issuer no jwtRule has, a path without a leading '/').
	Warnings []string
}

// Matches reports whether the selector selects a gateway with the given
// labels. A nil selector or empty matchLabels selects every gateway.
func (s *WorkloadSelector) Matches(labels map[string]string) bool {
	if s == nil {
		return true
	}
	for k, v := range s.MatchLabels {
		got, ok := labels[k]
		if !ok || got != v {
			return false
		}
	}
	return true
}

// ChangedSince lists the files that differ between prev and s, by Files:
// "+path" for each file added, then "~path" for each modified, then
// "-path" for each removed, each group sorted by path. A nil prev counts
// every file of s as added.
func (s *Set) ChangedSince(prev *Set) []string {
	var old map[string]string
	if prev != nil {
		old = prev.Files
	}
	var added, modified, removed []string
	for _, p := range sortedKeys(s.Files) {
		sum, ok := old[p]
		switch {
		case !ok:
			added = append(added, "+"+p)
		case sum != s.Files[p]:
			modified = append(modified, "~"+p)
		}
	}
	for _, p := range sortedKeys(old) {
		if _, ok := s.Files[p]; !ok {
			removed = append(removed, "-"+p)
		}
	}
	return append(append(added, modified...), removed...)
}
