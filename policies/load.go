package policies

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Load reads a policy tree: path is a directory or a single file. In a
// directory it reads every *.yaml, *.yml and *.json file (any case;
// YAML is a superset of JSON, as kubectl and istioctl read both)
// recursively, skipping names that start with '.' and editor temp files
// ("x~", "#x#", "*.swp", "*.swx"); a file named directly is read whatever
// its name, so tools that pass single files (pre-commit hooks) work. It
// decodes and validates all documents and returns one Set, or an ErrorList
// with every problem found.
//
// Symlinks are followed, so a Kubernetes ConfigMap mount (top-level links
// into "..data", which links to a timestamped "..2024_..." directory) is read
// once, through the top-level links. A tree without documents is a valid
// empty Set with a warning.
func Load(path string) (*Set, error) {
	files, errs := listFiles(path)
	h := sha256.New()
	var docs []*document
	sums := make(map[string]string, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f.disk)
		if err != nil {
			errs = append(errs, &FieldError{File: f.disk, Msg: err.Error()})
			continue
		}
		writeHashed(h, f.rel, data)
		sum := sha256.Sum256(data)
		sums[f.rel] = hex.EncodeToString(sum[:])
		ds, derrs := decodeFile(f.disk, data)
		errs = append(errs, derrs...)
		docs = append(docs, ds...)
	}
	set := &Set{Hash: hex.EncodeToString(h.Sum(nil)), Files: sums}
	var warnings ErrorList
	for _, d := range docs {
		derrs, warns := validateDocument(d)
		errs = append(errs, derrs...)
		warnings = append(warnings, warns...)
	}
	warnings = append(warnings, noTokenWarnings(docs)...)
	warnings = append(warnings, treeWarnings(docs)...)
	if len(docs) == 0 {
		warnings = append(warnings, &FieldError{File: path, Msg: "no documents found (jwtgate reads *.yaml, *.yml and *.json files; " +
			"names starting with '.' and editor temp files are skipped)"})
	}
	errs = append(errs, duplicates(docs)...)
	if len(errs) > 0 {
		return nil, errs.sorted()
	}
	for _, d := range docs {
		switch o := d.obj.(type) {
		case *Gateway:
			set.Gateways = append(set.Gateways, o)
		case *VirtualService:
			set.VirtualServices = append(set.VirtualServices, o)
		case *RequestAuthentication:
			set.RequestAuthentications = append(set.RequestAuthentications, o)
		case *AuthorizationPolicy:
			set.AuthorizationPolicies = append(set.AuthorizationPolicies, o)
		}
	}
	sortByName(set.Gateways, func(o *Gateway) *ObjectMeta { return &o.Metadata })
	sortByName(set.VirtualServices, func(o *VirtualService) *ObjectMeta { return &o.Metadata })
	sortByName(set.RequestAuthentications, func(o *RequestAuthentication) *ObjectMeta { return &o.Metadata })
	sortByName(set.AuthorizationPolicies, func(o *AuthorizationPolicy) *ObjectMeta { return &o.Metadata })
	for _, w := range warnings.sorted() {
		set.Warnings = append(set.Warnings, warningText(w))
	}
	return set, nil
}

// writeHashed feeds one file into the tree hash, length-prefixed so that
// different trees can never produce the same byte stream.
func writeHashed(h hash.Hash, rel string, data []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(rel)))
	h.Write(n[:])
	h.Write([]byte(rel))
	binary.BigEndian.PutUint64(n[:], uint64(len(data)))
	h.Write(n[:])
	h.Write(data)
}

func sortByName[T any](s []T, meta func(T) *ObjectMeta) {
	sort.SliceStable(s, func(i, j int) bool {
		a, b := meta(s[i]), meta(s[j])
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
}

// duplicates reports documents with the same kind, namespace and name.
func duplicates(docs []*document) ErrorList {
	var errs ErrorList
	first := map[string]*document{}
	for _, d := range docs {
		key := d.kind + "/" + d.meta.Namespace + "/" + d.meta.Name
		prev, dup := first[key]
		if !dup {
			first[key] = d
			continue
		}
		p := d.at("metadata.name")
		errs = append(errs, &FieldError{
			File: d.file, Line: p.line, Column: p.col, Field: "metadata.name",
			Msg: fmt.Sprintf("duplicate %s %s/%s: also defined at %s:%d", d.kind, d.meta.Namespace, d.meta.Name, prev.file, prev.line),
		})
	}
	return errs
}

// policyFile is a file to read: its path on disk (dir joined with rel) and its slash-separated
// path relative to the policy directory (used for the hash).
type policyFile struct{ disk, rel string }

// listFiles walks dir, following symlinks, and returns the policy files in
// lexical order of their relative paths. When dir is a regular file, the
// tree is that one file (its relative path is its base name).
func listFiles(dir string) ([]policyFile, ErrorList) {
	var files []policyFile
	var errs ErrorList
	visited := map[string]bool{}
	var walk func(abs, rel string)
	walk = func(abs, rel string) {
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			errs = append(errs, &FieldError{File: abs, Msg: err.Error()})
			return
		}
		if visited[real] {
			return // symlink loop or a directory linked twice
		}
		visited[real] = true
		entries, err := os.ReadDir(abs)
		if err != nil {
			errs = append(errs, &FieldError{File: abs, Msg: err.Error()})
			return
		}
		for _, e := range entries {
			name := e.Name()
			if skipName(name) {
				continue
			}
			childAbs, childRel := filepath.Join(abs, name), path.Join(rel, name)
			info, err := os.Stat(childAbs) // follows symlinks
			if err != nil {
				if e.Type()&os.ModeSymlink != 0 && os.IsNotExist(err) {
					continue // dangling link, e.g. in the middle of a ..data swap
				}
				errs = append(errs, &FieldError{File: childAbs, Msg: err.Error()})
				continue
			}
			switch {
			case info.IsDir():
				walk(childAbs, childRel)
			case info.Mode().IsRegular() && isPolicyFile(name):
				files = append(files, policyFile{disk: childAbs, rel: childRel})
			}
		}
	}
	info, err := os.Stat(dir)
	if err != nil {
		return nil, ErrorList{{File: dir, Msg: err.Error()}}
	}
	switch {
	case info.Mode().IsRegular():
		return []policyFile{{disk: dir, rel: filepath.Base(dir)}}, nil
	case !info.IsDir():
		return nil, ErrorList{{File: dir, Msg: "not a directory or regular file"}}
	}
	walk(dir, "")
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	return files, errs
}

// skipName reports names that are never read: dotfiles (including
// Kubernetes' "..data" internals) and editor temp files.
func skipName(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") ||
		(strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#")) ||
		strings.HasSuffix(name, ".swp") || strings.HasSuffix(name, ".swx")
}

func isPolicyFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yaml" || ext == ".yml" || ext == ".json"
}
