package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/jwtgate/jwtgate/jwks"
)

func (a *app) jwkCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jwk [--in FILE|-]",
		Short: "Convert a PEM key or certificate (RSA or EC) to a JWKS",
		Long: `jwk reads PEM blocks (public keys, private keys or X.509 certificates, whose
public key is taken) and prints {"keys":[...]} with only public members; kid
is the key's RFC 7638 thumbprint. Paste the output into a
RequestAuthentication jwks field. Without --in it reads stdin.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: a.jwk,
	}
	cmd.Flags().String("in", "-", "PEM file to read, - for stdin")
	return cmd
}

func (a *app) jwk(cmd *cobra.Command, _ []string) error {
	name := a.str("in")
	if (name == "-" || name == "") && isTerminal(cmd.InOrStdin()) {
		fmt.Fprintln(cmd.ErrOrStderr(), "jwtgate jwk: reading a PEM key from the terminal; paste it and press Ctrl-D, or use --in FILE")
	}
	data, err := readInput(cmd, name)
	if err != nil {
		return err
	}
	data, err = certificatesToKeys(data)
	if err != nil {
		return failure("%s: %v", inputName(name), err)
	}
	set, err := jwks.FromPEM(data)
	if err != nil {
		return failure("%s: %v", inputName(name), err)
	}
	out, err := set.JSON()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", out)
	return err
}

// inputName names an input for messages.
func inputName(name string) string {
	if name == "-" || name == "" {
		return "stdin"
	}
	return name
}

// isTerminal reports whether r is a terminal (a character device), where a
// silent read would look like a hang.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// certificatesToKeys replaces every CERTIFICATE block of PEM data with a
// PUBLIC KEY block holding the certificate's public key (the key a JWKS
// publishes; the certificate itself is not part of it). Other blocks are
// kept; text around the blocks is dropped.
func certificatesToKeys(data []byte) ([]byte, error) {
	var out []byte
	for n := 1; ; n++ {
		block, rest := pem.Decode(data)
		if block == nil {
			return append(out, data...), nil
		}
		if block.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM block %d (CERTIFICATE): %w", n, err)
			}
			der, err := x509.MarshalPKIXPublicKey(cert.PublicKey)
			if err != nil {
				return nil, fmt.Errorf("PEM block %d (CERTIFICATE): %w", n, err)
			}
			block = &pem.Block{Type: "PUBLIC KEY", Bytes: der}
		}
		out = append(out, pem.EncodeToMemory(block)...)
		data = rest
	}
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
