package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/jwtgate/jwtgate/policies"
)

func (a *app) validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate DIR...",
		Short: "Check policy folders; exit 1 if any document is invalid",
		Long: `validate loads every policy folder like serve does and prints each error as
file:line:col: field: msg, and every warning. It exits 1 when any folder has
an error, else prints a summary per folder and exits 0.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: a.validate,
	}
}

func (a *app) validate(cmd *cobra.Command, dirs []string) error {
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	problems := 0
	for _, dir := range dirs {
		set, err := a.load(dir)
		if err != nil {
			var list policies.ErrorList
			if errors.As(err, &list) {
				for _, fe := range list {
					fmt.Fprintln(errOut, fe.Error())
				}
				problems += len(list)
			} else {
				fmt.Fprintf(errOut, "%s: %v\n", dir, err)
				problems++
			}
			continue
		}
		for _, w := range set.Warnings {
			fmt.Fprintf(errOut, "warning: %s\n", w)
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
