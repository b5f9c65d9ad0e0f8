package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jwtgate/jwtgate/jwks"
	"github.com/jwtgate/jwtgate/policies"
	"github.com/jwtgate/jwtgate/translate"
)

func (a *app) renderCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "render PATH [--namespace NS] [--label k=v]...",
		Short: "Print the Envoy configuration serve would push to one gateway",
		Long: `render loads PATH (a folder or a single file) like validate, translates it for
the gateway identity --namespace / --label (what an Envoy says in its
bootstrap's node.metadata) with the same translation flags and defaults as
serve, and prints the listeners, routes and clusters as YAML. Errors and
warnings go to stderr; invalid policies exit 1.

render is offline: keys that serve would fetch (jwksUri, OIDC discovery) are
not fetched; those issuers show serve's fail-closed key, and a note on stderr
names them. With --jwks-fetcher envoy, rules with jwksUri show remote_jwks
and its cluster instead.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: a.render,
	}
	f := cmd.Flags()
	f.String("namespace", policies.DefaultRootNamespace, "gateway namespace (node.metadata.namespace)")
	f.StringArray("label", []string{"istio=ingressgateway"}, "gateway label k=v (node.metadata.labels), repeatable; --label '' for none")
	addTranslateFlags(f)
	return cmd
}

// parseLabels parses k=v entries; empty entries are skipped.
func parseLabels(entries []string) (map[string]string, error) {
	out := map[string]string{}
	for _, e := range entries {
		if strings.TrimSpace(e) == "" {
			continue
		}
		k, v, ok := strings.Cut(e, "=")
		if !ok || k == "" {
			return nil, usageErr("--label %q: want key=value", e)
		}
		if prev, dup := out[k]; dup && prev != v {
			return nil, usageErr("--label: %s given twice (%s and %s)", k, prev, v)
		}
		out[k] = v
	}
	return out, nil
}

func (a *app) render(cmd *cobra.Command, args []string) error {
	opts, err := a.translateOptions(cmd)
	if err != nil {
		return err
	}
	ns := a.str("namespace")
	if ns == "" {
		return usageErr("--namespace must not be empty")
	}
	labels, err := parseLabels(a.list(cmd, "label", ","))
	if err != nil {
		return err
	}
	errOut := cmd.ErrOrStderr()
	set, n := loadReport(a.load, args[0], errOut)
	if set == nil {
		return failure("invalid policies: %d error(s)", n)
	}
	if opts.FailClosedJWKS, err = jwks.FailClosedJWKS(); err != nil {
		return err
	}
	if opts.EnvoyFetchesKeys {
		if problems := remoteKeyProblems(set); len(problems) > 0 {
			for _, msg := range problems {
				fmt.Fprintln(errOut, msg)
			}
			return failure("invalid policies: %d error(s)", len(problems))
		}
	}
	for _, t := range keyTargets(set, opts.EnvoyFetchesKeys) {
		fmt.Fprintf(errOut, "note: keys of %s are not fetched by render; its issuer shows the fail-closed key (serve fetches the real keys)\n", t.URL)
	}
	id := policies.Identity{Namespace: ns, Labels: labels}
	res, err := a.translate(set, id, opts)
	if err != nil {
		return failure("translate: %v", err)
	}
	if len(res.Listeners) == 0 {
		fmt.Fprintf(errOut, "note: no Gateway selects namespace %s labels {%s}: no listeners (compare the Gateways' spec.selector)\n",
			ns, formatLabels(labels))
	}
	out, err := translate.MarshalYAML(res)
	if err != nil {
		return err
	}
	_, err = cmd.OutOrStdout().Write(out)
	return err
}

// formatLabels prints labels sorted as k=v,k=v.
func formatLabels(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}
