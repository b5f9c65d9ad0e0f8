package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/jwtgate/jwtgate/jwks"
)

func (a *app) jwkCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jwk [--in FILE|-]",
		Short: "Convert a PEM key (public or private; RSA or EC) to a JWKS",
		Long: `jwk reads PEM keys and prints {"keys":[...]} with only public members; kid is
the key's RFC 7638 thumbprint. Paste the output into a RequestAuthentication
jwks field.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: a.jwk,
	}
	cmd.Flags().String("in", "-", "PEM file to read, - for stdin")
	return cmd
}

func (a *app) jwk(cmd *cobra.Command, _ []string) error {
	data, err := readInput(cmd, a.str("in"))
	if err != nil {
		return err
	}
	set, err := jwks.FromPEM(data)
	if err != nil {
		return usageErr("%s: %v", a.str("in"), err)
	}
	out, err := set.JSON()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", out)
	return err
}

// readInput reads a file, or stdin for "-".
func readInput(cmd *cobra.Command, name string) ([]byte, error) {
	if name == "-" || name == "" {
		return io.ReadAll(cmd.InOrStdin())
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return data, nil
}
