package translate

import (
	"maps"
	"slices"
	"strings"

	"github.com/jwtgate/jwtgate/policies"
)

// sortByName sorts s in place by the name key returns.
func sortByName[T any](s []T, key func(T) string) {
	slices.SortStableFunc(s, func(a, b T) int { return strings.Compare(key(a), key(b)) })
}

// sortedKeys returns the keys of m in ascending order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// mapKeys returns an iterator over m's keys (for slices.Sorted).
func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return maps.Keys(m)
}

// sortedByMeta returns a copy of docs sorted by (namespace, name).
func sortedByMeta[T any](docs []T, meta func(T) policies.ObjectMeta) []T {
	out := slices.Clone(docs)
	slices.SortStableFunc(out, func(a, b T) int {
		ma, mb := meta(a), meta(b)
		if c := strings.Compare(ma.Namespace, mb.Namespace); c != 0 {
			return c
		}
		return strings.Compare(ma.Name, mb.Name)
	})
	return out
}
