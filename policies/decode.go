package policies

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decoding rules: every mapping key must name a field of the Go type (by its
// yaml tag; inline structs are flattened), duplicate keys are errors, a field
// whose yaml tag lacks ",omitempty" is required, and scalars must have the
// field's type. Every error carries file, line, column and field path.

// position is a line/column pair in a file.
type position struct{ line, col int }

// document is one decoded YAML document with the positions of its fields,
// kept for validation.
type document struct {
	file string
	kind string
	obj  any // *Gateway, *VirtualService, *RequestAuthentication or *AuthorizationPolicy
	meta *ObjectMeta
	pos  map[string]position // field path -> position of its value
	line int                 // first line of the document
	col  int
	// nsDefaulted: metadata.namespace was absent or empty and is "default".
	nsDefaulted bool
}

// at returns the position of path, or of its closest recorded ancestor.
func (d *document) at(path string) position {
	for p := path; ; p = parentPath(p) {
		if pos, ok := d.pos[p]; ok {
			return pos
		}
		if p == "" {
			return position{d.line, d.col}
		}
	}
}

// parentPath strips the last segment of a field path ("a.b[0]" -> "a.b").
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// kindInfo says which apiVersions a kind accepts and how to allocate it.
type kindInfo struct {
	group    string
	versions []string
	alloc    func() (any, *ObjectMeta)
}

var kinds = map[string]kindInfo{
	KindGateway: {GroupNetworking, []string{"v1", "v1beta1", "v1alpha3"}, func() (any, *ObjectMeta) {
		o := &Gateway{}
		return o, &o.Metadata
	}},
	KindVirtualService: {GroupNetworking, []string{"v1", "v1beta1", "v1alpha3"}, func() (any, *ObjectMeta) {
		o := &VirtualService{}
		return o, &o.Metadata
	}},
	KindRequestAuthentication: {GroupSecurity, []string{"v1", "v1beta1"}, func() (any, *ObjectMeta) {
		o := &RequestAuthentication{}
		return o, &o.Metadata
	}},
	KindAuthorizationPolicy: {GroupSecurity, []string{"v1", "v1beta1"}, func() (any, *ObjectMeta) {
		o := &AuthorizationPolicy{}
		return o, &o.Metadata
	}},
}

const supportedKinds = "Gateway and VirtualService (networking.istio.io/v1, v1beta1, v1alpha3), " +
	"RequestAuthentication and AuthorizationPolicy (security.istio.io/v1, v1beta1)"

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decodeFile splits data into YAML documents and decodes each strictly.
// Empty documents are skipped. A syntax error stops the file.
func decodeFile(file string, data []byte) ([]*document, ErrorList) {
	var docs []*document
	var errs ErrorList
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var root yaml.Node
		err := dec.Decode(&root)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, syntaxError(file, data, err))
			break
		}
		n := &root
		if n.Kind == yaml.DocumentNode {
			if len(n.Content) == 0 {
				continue
			}
			n = n.Content[0]
		}
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
			continue // empty document (only comments or nothing)
		}
		d, derrs := decodeDocument(file, n)
		errs = append(errs, derrs...)
		if d != nil {
			docs = append(docs, d)
		}
	}
	return docs, errs
}

// syntaxError turns a YAML parser error into a FieldError. The parser names
// a line but no column, and for a tab it often names the line before; so
// when the parser complains about a tab or a character that cannot start a
// token and the file indents a line with a tab (YAML forbids that; JSON's
// flow style allows it, so only such errors blame it), the error points at
// that tab instead, with line and column.
func syntaxError(file string, data []byte, err error) *FieldError {
	fe := &FieldError{File: file}
	parser := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		fe.Line, _ = strconv.Atoi(m[1])
		parser = m[2]
	}
	fe.Msg = "invalid YAML: " + parser
	tabLike := strings.Contains(parser, "tab") || strings.Contains(parser, "cannot start any token")
	if line, col := indentTab(data); line > 0 && tabLike {
		if fe.Line > 0 {
			parser = fmt.Sprintf("%s (line %d)", parser, fe.Line)
		}
		fe.Line, fe.Column = line, col
		fe.Msg = fmt.Sprintf("invalid YAML: tabs are not allowed for indentation in YAML (line %d): indent with spaces; parser said: %s", line, parser)
	}
	return fe
}

// indentTab returns the 1-based line and column of the first tab in the
// leading whitespace of a line, or 0, 0.
func indentTab(data []byte) (line, col int) {
	for i, l := range bytes.Split(data, []byte("\n")) {
		for j, c := range l {
			if c == '\t' {
				return i + 1, j + 1
			}
			if c != ' ' {
				break
			}
		}
	}
	return 0, 0
}

// decodeDocument decodes one document root node into its kind's Go type.
func decodeDocument(file string, n *yaml.Node) (*document, ErrorList) {
	w := &walker{file: file, pos: map[string]position{}}
	if n.Kind != yaml.MappingNode {
		w.errf(n, "", "a document must be a mapping with apiVersion and kind, got %s", describe(n))
		return nil, w.errs
	}
	apiVersion, avNode := scalarField(n, "apiVersion")
	kind, kindNode := scalarField(n, "kind")
	if kindNode == nil {
		if k := typoKey(n, "kind"); k != nil {
			w.errf(k, k.Value, "unknown field %q: did you mean %q? jwtgate reads %s", k.Value, "kind", supportedKinds)
			return nil, w.errs
		}
		w.errf(n, "kind", "missing required field %q; jwtgate reads %s", "kind", supportedKinds)
		return nil, w.errs
	}
	info, ok := kinds[kind]
	if !ok {
		w.errf(kindNode, "kind", "unknown kind %q (apiVersion %q); jwtgate reads %s", kind, apiVersion, supportedKinds)
		return nil, w.errs
	}
	if avNode == nil {
		if k := typoKey(n, "apiVersion"); k != nil {
			w.errf(k, k.Value, "unknown field %q: did you mean %q? %s uses %s", k.Value, "apiVersion", kind, versionList(info))
			return nil, w.errs
		}
		w.errf(n, "apiVersion", "missing required field %q; %s uses %s", "apiVersion", kind, versionList(info))
		return nil, w.errs
	}
	if !info.accepts(apiVersion) {
		w.errf(avNode, "apiVersion", "apiVersion %q is not supported for kind %s; use %s", apiVersion, kind, versionList(info))
		return nil, w.errs
	}
	if kind == KindAuthorizationPolicy {
		// Istio's CUSTOM policies carry a provider block: name the
		// unsupported action, not the field jwtgate has no use for.
		if spec := mappingField(n, "spec"); spec != nil {
			if action, an := scalarField(spec, "action"); an != nil && action == ActionCustom {
				w.errf(an, "spec.action", "%s", customUnsupported)
				return nil, w.errs
			}
		}
	}
	obj, meta := info.alloc()
	w.root = true
	w.decode(n, reflect.ValueOf(obj).Elem(), "")
	if len(w.errs) > 0 {
		return nil, w.errs
	}
	defaulted := meta.Namespace == ""
	if defaulted {
		meta.Namespace = "default"
	}
	d := &document{file: file, kind: kind, obj: obj, meta: meta, pos: w.pos, line: n.Line, col: n.Column, nsDefaulted: defaulted}
	setOrigin(obj, Origin{File: file, Line: n.Line})
	return d, nil
}

// setOrigin stores where a decoded object came from.
func setOrigin(obj any, o Origin) {
	switch v := obj.(type) {
	case *Gateway:
		v.Origin = o
	case *VirtualService:
		v.Origin = o
	case *RequestAuthentication:
		v.Origin = o
	case *AuthorizationPolicy:
		v.Origin = o
	}
}

func (k kindInfo) accepts(apiVersion string) bool {
	for _, v := range k.versions {
		if apiVersion == k.group+"/"+v {
			return true
		}
	}
	return false
}

func versionList(k kindInfo) string {
	out := make([]string, len(k.versions))
	for i, v := range k.versions {
		out[i] = k.group + "/" + v
	}
	return strings.Join(out, ", ")
}

// scalarField returns the value of a top-level scalar key of mapping n.
func scalarField(n *yaml.Node, key string) (string, *yaml.Node) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i+1].Kind == yaml.ScalarNode {
			return n.Content[i+1].Value, n.Content[i+1]
		}
	}
	return "", nil
}

// typoKey returns the first key of mapping n that nearestField takes for a
// typo of field, or nil.
func typoKey(n *yaml.Node, field string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind == yaml.ScalarNode && k.Value != field && nearestField(k.Value, []structField{{name: field}}) != "" {
			return k
		}
	}
	return nil
}

// mappingField returns the value of a top-level mapping key of mapping n.
func mappingField(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i+1].Kind == yaml.MappingNode {
			return n.Content[i+1]
		}
	}
	return nil
}

// walker decodes a yaml.Node tree into Go values by reflection, collecting
// errors and the position of every field path.
type walker struct {
	file string
	errs ErrorList
	pos  map[string]position
	root bool // the next struct is a document root (may carry "status")
}

func (w *walker) errf(n *yaml.Node, path, format string, args ...any) {
	w.errs = append(w.errs, &FieldError{
		File: w.file, Line: n.Line, Column: n.Column, Field: path, Msg: fmt.Sprintf(format, args...),
	})
}

// describe names a node's YAML type for error messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!int":
			return "the integer " + n.Value
		case "!!bool":
			return "the boolean " + n.Value
		case "!!float":
			return "the number " + n.Value
		}
		return strconv.Quote(n.Value)
	}
	return "an unsupported YAML node"
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

var simpleKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// joinKey appends a mapping key to a path: ".key" for simple keys, "[key]"
// otherwise (labels like "app.kubernetes.io/name", header names).
func joinKey(path, key string, field bool) string {
	if field || simpleKey.MatchString(key) {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return path + "[" + key + "]"
}

// decode fills v from n. path is v's field path.
func (w *walker) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	w.pos[path] = position{n.Line, n.Column}
	if isNull(n) {
		return // zero value; required fields are checked by the parent
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		w.decode(n, v.Elem(), path)
	case reflect.Struct:
		w.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.errf(n, path, "expected a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if isNull(item) {
				w.errf(item, p, "list entries must not be empty (null)")
				continue
			}
			w.decode(item, s.Index(i), p)
		}
		v.Set(s)
	case reflect.Map:
		w.decodeMap(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			w.errf(n, path, "expected a string, got %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if !w.scalar(n, path, "!!bool", "true or false", &b) {
			return
		}
		v.SetBool(b)
	case reflect.Int32, reflect.Int64, reflect.Int:
		var i int64
		if !w.scalar(n, path, "!!int", "an integer", &i) {
			return
		}
		if v.OverflowInt(i) {
			w.errf(n, path, "integer %s is out of range", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Uint32, reflect.Uint64, reflect.Uint:
		var i int64
		if !w.scalar(n, path, "!!int", "an integer", &i) {
			return
		}
		if i < 0 || v.OverflowUint(uint64(i)) {
			w.errf(n, path, "integer %s is out of range", n.Value)
			return
		}
		v.SetUint(uint64(i))
	default:
		w.errf(n, path, "internal error: cannot decode into %s", v.Type())
	}
}

// scalar decodes n into out when n is a scalar with the YAML tag; else it
// reports that path expected what and returns false.
func (w *walker) scalar(n *yaml.Node, path, tag, what string, out any) bool {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != tag || n.Decode(out) != nil {
		w.errf(n, path, "expected %s, got %s", what, describe(n))
		return false
	}
	return true
}

// structField is one decodable field of a struct, inline structs flattened.
type structField struct {
	name     string
	index    []int
	required bool
}

// fieldsOf lists the yaml fields of struct type t in declaration order.
func fieldsOf(t reflect.Type) []structField {
	var out []structField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			for _, sub := range fieldsOf(f.Type) {
				sub.index = append([]int{i}, sub.index...)
				out = append(out, sub)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, structField{name: name, index: []int{i}, required: !strings.Contains(opts, "omitempty")})
	}
	return out
}

var objectMetaType = reflect.TypeOf(ObjectMeta{})

func (w *walker) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	root := w.root
	w.root = false
	if n.Kind != yaml.MappingNode {
		w.errf(n, path, "expected a mapping, got %s", describe(n))
		return
	}
	fields := fieldsOf(v.Type())
	meant := map[string]bool{} // fields an unknown key was suggested for
	seen := w.eachPair(n, path, true, func(k, val *yaml.Node, p string) {
		if root && k.Value == "status" {
			return // written by controllers, not read
		}
		f, ok := findField(fields, k.Value)
		if !ok {
			near := nearestField(k.Value, fields)
			meant[near] = true
			w.errf(k, p, "%s", unknownFieldMsg(k.Value, near, v.Type(), fields))
			return
		}
		w.decode(val, v.FieldByIndex(f.index), p)
		if f.required && isNull(val) {
			w.errf(val, p, "required field %q must not be empty", f.name)
		}
	})
	for _, f := range fields {
		// A typo of a required field ("issuers") is one problem: the
		// unknown field error already names the field it stands for.
		if f.required && seen[f.name] == nil && !meant[f.name] {
			w.errf(n, joinKey(path, f.name, true), "missing required field %q", f.name)
		}
	}
}

func findField(fields []structField, name string) (structField, bool) {
	for _, f := range fields {
		if f.name == name {
			return f, true
		}
	}
	return structField{}, false
}

var authorizationPolicySpecType = reflect.TypeOf(AuthorizationPolicySpec{})

// customUnsupported is the error for action CUSTOM.
const customUnsupported = "action CUSTOM (ext_authz) is not supported: jwtgate has no external authorizer; use ALLOW, DENY or AUDIT rules"

// unknownFieldMsg explains an unknown key of a struct of type t; near is
// the field the key probably stands for, or "".
func unknownFieldMsg(key, near string, t reflect.Type, fields []structField) string {
	msg, sep := fmt.Sprintf("unknown field %q", key), ": "
	if near != "" {
		msg, sep = fmt.Sprintf("%s: did you mean %q?", msg, near), " "
	}
	switch {
	case t == objectMetaType:
		return msg + sep + "jwtgate reads only name, namespace, labels and annotations of metadata"
	case t == authorizationPolicySpecType && key == "provider":
		return msg + ": provider belongs to action CUSTOM (ext_authz), which jwtgate does not support"
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	if near != "" {
		return msg + " Allowed fields: " + strings.Join(names, ", ")
	}
	return msg + "; allowed fields: " + strings.Join(names, ", ")
}

// nearestField returns the field name key is most likely a typo of: equal
// but for case, or within edit distance 2 (1 for keys of up to 3
// characters), counting a swap of two neighbours as one edit. Ties go to
// the field declared first. It returns "" when no field is that close.
func nearestField(key string, fields []structField) string {
	limit := 2
	if len(key) <= 3 {
		limit = 1
	}
	best, bestDist := "", limit+1
	for _, f := range fields {
		d := editDistance(strings.ToLower(key), strings.ToLower(f.name))
		if d < bestDist {
			best, bestDist = f.name, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance of a and b (in
// bytes): insertions, deletions, substitutions and transpositions of
// adjacent characters each cost 1.
func editDistance(a, b string) int {
	rows := make([][]int, len(a)+1)
	for i := range rows {
		rows[i] = make([]int, len(b)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, rows[i-2][j-2]+1)
			}
			rows[i][j] = d
		}
	}
	return rows[len(a)][len(b)]
}

func (w *walker) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		w.errf(n, path, "expected a mapping, got %s", describe(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	w.eachPair(n, path, false, func(k, val *yaml.Node, p string) {
		elem := reflect.New(v.Type().Elem()).Elem()
		if isNull(val) && elem.Kind() == reflect.Struct {
			w.errf(val, p, "must not be empty (null)")
			return
		}
		w.decode(val, elem, p)
		m.SetMapIndex(reflect.ValueOf(k.Value), elem)
	})
	v.Set(m)
}

// eachPair calls fn for every key/value pair of the mapping n, with the
// pair's field path (field: struct field vs map key syntax). Non-string
// and duplicate keys are reported and skipped. It returns the keys seen.
func (w *walker) eachPair(n *yaml.Node, path string, field bool, fn func(k, val *yaml.Node, p string)) map[string]*yaml.Node {
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			w.errf(k, path, "mapping keys must be strings, got %s", describe(k))
			continue
		}
		p := joinKey(path, k.Value, field)
		if prev, dup := seen[k.Value]; dup {
			w.errf(k, p, "duplicate key %q (first at line %d)", k.Value, prev.Line)
			continue
		}
		seen[k.Value] = k
		fn(k, val, p)
	}
	return seen
}
