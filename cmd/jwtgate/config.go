package main

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// configKeys returns the keys a --config file may set: the name of every
// flag of every command, so one file can hold the settings of serve,
// render and token alike. help, version and config itself are not
// settings.
func configKeys(root *cobra.Command) map[string]bool {
	keys := map[string]bool{}
	var visit func(c *cobra.Command)
	visit = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.PersistentFlags(), c.Flags()} {
			fs.VisitAll(func(f *pflag.Flag) { keys[f.Name] = true })
		}
		for _, sub := range c.Commands() {
			visit(sub)
		}
	}
	visit(root)
	delete(keys, "help")
	delete(keys, "version")
	delete(keys, "config")
	return keys
}

// checkConfigKeys reads the YAML config file and rejects a top-level key
// that is not a flag name (viper would ignore it silently), naming the
// file, line and the closest flag name.
func checkConfigKeys(file string, known map[string]bool) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return usageErr("config %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return usageErr("config %s: %v", file, err)
	}
	if len(doc.Content) == 0 { // empty file
		return nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return usageErr("config %s:%d: want a mapping of flag names to values", file, top.Line)
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k := top.Content[i]
		name := strings.ToLower(k.Value) // viper's keys are case-insensitive
		if known[name] {
			continue
		}
		msg := fmt.Sprintf("config %s:%d: unknown key %q", file, k.Line, k.Value)
		if s := suggest(name, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return usageErr("%s; keys are flag names, see 'jwtgate COMMAND --help'", msg)
	}
	return nil
}

// suggest returns the known name closest to s when it is close enough to
// be a typo (edit distance at most 2, or half the length of s) or s is the
// start of it ("listener" for "listener-address"), else "". Ties go to the
// alphabetically first name, so the hint is stable.
func suggest(s string, known map[string]bool) string {
	best, bestD := "", -1
	for _, k := range slices.Sorted(maps.Keys(known)) {
		d := editDistance(s, k)
		if len(s) >= 4 && strings.HasPrefix(k, s) {
			d = 1
		}
		if bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	if bestD < 0 || bestD > max(2, len(s)/2) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, where '_'
// and '-' are the same (environment style names).
func editDistance(a, b string) int {
	a, b = strings.ReplaceAll(a, "_", "-"), strings.ReplaceAll(b, "_", "-")
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
