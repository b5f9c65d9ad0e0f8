package policies

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem in one document: file, 1-based line and column,
// the field path (e.g. "spec.jwtRules[0].jwks") and a message. Line and
// Column are 0 when the problem concerns a whole file or directory.
type FieldError struct {
	File   string
	Line   int
	Column int
	Field  string
	Msg    string
}

// Error formats the problem as "file:line:col: field: msg"; the field part is
// omitted when empty, line and column when unknown.
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in a tree, sorted by file and line.
type ErrorList []*FieldError

// Error joins every problem, one per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sorted returns the list ordered by file, line, column, field and message.
func (l ErrorList) sorted() ErrorList {
	out := append(ErrorList(nil), l...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		return a.Msg < b.Msg
	})
	return out
}
