package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/jwtgate/jwtgate/policies"
)

func (a *app) validateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate PATH...",
		Short: "Check policy folders or files; exit 1 if any document is invalid",
		Long: `validate loads every PATH like serve loads its folder and prints each error as
file:line:col: field: msg, and every warning. A PATH is a folder (read
recursively) or a single policy file, so a pre-commit hook can pass the files
it checks. It exits 1 when any PATH has an error, else prints a summary per
PATH and exits 0.

With --jwks-fetcher envoy (as serve runs), a jwksUri on a cloud metadata host
name or on a literal link-local or metadata address is an error: Envoy would
fetch it without jwtgate's SSRF guard.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: a.validate,
	}
	addFetcherFlag(cmd.Flags())
	return cmd
}

func (a *app) validate(cmd *cobra.Command, dirs []string) error {
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	envoyFetches, err := a.envoyFetches()
	if err != nil {
		return err
	}
	problems := 0
	for _, dir := range dirs {
		set, n := loadReport(a.load, dir, errOut)
		if set == nil {
			problems += n
			continue
		}
		if envoyFetches {
			if refused := remoteKeyProblems(set); len(refused) > 0 {
				for _, msg := range refused {
					fmt.Fprintln(errOut, msg)
				}
				problems += len(refused)
				continue
			}
		}
		fmt.Fprintf(out, "%s: ok: %d Gateway, %d VirtualService, %d RequestAuthentication, %d AuthorizationPolicy; %d warning(s)\n",
			dir, len(set.Gateways), len(set.VirtualServices), len(set.RequestAuthentications),
			len(set.AuthorizationPolicies), len(set.Warnings))
	}
	if problems > 0 {
		return &exitError{exitFailure, fmt.Errorf("invalid policies: %d error(s)", problems)}
	}
	return nil
}

// loadReport loads path and prints its errors, or its warnings when it is
// valid, to errOut. It returns the Set, or nil and the number of errors.
func loadReport(load func(string) (*policies.Set, error), path string, errOut io.Writer) (*policies.Set, int) {
	set, err := load(path)
	if err != nil {
		var list policies.ErrorList
		if errors.As(err, &list) {
			for _, fe := range list {
				fmt.Fprintln(errOut, fe.Error())
			}
			return nil, len(list)
		}
		fmt.Fprintf(errOut, "%s: %v\n", path, err)
		return nil, 1
	}
	for _, w := range set.Warnings {
		fmt.Fprintf(errOut, "warning: %s\n", w)
	}
	return set, 0
}
