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
			fe := &FieldError{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
			if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
				fe.Line, _ = strconv.Atoi(m[1])
				fe.Msg = "invalid YAML: " + m[2]
			} else {
				fe.Msg = "invalid YAML: " + fe.Msg
			}
			errs = append(errs, fe)
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
		w.errf(n, "kind", "missing required field %q; jwtgate reads %s", "kind", supportedKinds)
		return nil, w.errs
	}
	info, ok := kinds[kind]
	if !ok {
		w.errf(kindNode, "kind", "unknown kind %q (apiVersion %q); jwtgate reads %s", kind, apiVersion, supportedKinds)
		return nil, w.errs
	}
	if avNode == nil {
		w.errf(n, "apiVersion", "missing required field %q; %s uses %s", "apiVersion", kind, versionList(info))
		return nil, w.errs
	}
	if !info.accepts(apiVersion) {
		w.errf(avNode, "apiVersion", "apiVersion %q is not supported for kind %s; use %s", apiVersion, kind, versionList(info))
		return nil, w.errs
	}
	obj, meta := info.alloc()
	w.root = true
	w.decode(n, reflect.ValueOf(obj).Elem(), "")
	if len(w.errs) > 0 {
		return nil, w.errs
	}
	if meta.Namespace == "" {
		meta.Namespace = "default"
	}
	d := &document{file: file, kind: kind, obj: obj, meta: meta, pos: w.pos, line: n.Line, col: n.Column}
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
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			w.errf(n, path, "expected true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int32, reflect.Int64, reflect.Int:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			w.errf(n, path, "expected an integer, got %s", describe(n))
			return
		}
		if v.OverflowInt(i) {
			w.errf(n, path, "integer %s is out of range", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Uint32, reflect.Uint64, reflect.Uint:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			w.errf(n, path, "expected an integer, got %s", describe(n))
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
	seen := w.eachPair(n, path, true, func(k, val *yaml.Node, p string) {
		if root && k.Value == "status" {
			return // written by controllers, not read
		}
		f, ok := findField(fields, k.Value)
		if !ok {
			w.errf(k, p, "%s", unknownFieldMsg(k.Value, v.Type(), fields))
			return
		}
		w.decode(val, v.FieldByIndex(f.index), p)
		if f.required && isNull(val) {
			w.errf(val, p, "required field %q must not be empty", f.name)
		}
	})
	for _, f := range fields {
		if f.required && seen[f.name] == nil {
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

func unknownFieldMsg(key string, t reflect.Type, fields []structField) string {
	if t == objectMetaType {
		return fmt.Sprintf("unknown field %q: jwtgate reads only name, namespace, labels and annotations of metadata", key)
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	return fmt.Sprintf("unknown field %q; allowed fields: %s", key, strings.Join(names, ", "))
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
