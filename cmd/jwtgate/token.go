package main

import (
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/jwtgate/jwtgate/jwks"
)

func (a *app) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token --key FILE --iss ISSUER [--sub S] [--aud A]... [--claim k=v]... [--exp DURATION] [--kid K]",
		Short: "Sign a test JWT with a PEM private key",
		Long: `token signs a JWT with typ JWT and kid = the key's RFC 7638 thumbprint, as
printed by 'jwtgate jwk'. The algorithm follows the key type:

  RSA (any size)   RS256
  EC P-256         ES256
  EC P-384         ES384
  EC P-521         ES512

--key is the PRIVATE key (PKCS#1, PKCS#8 or SEC 1 EC PEM); the public key or
certificate goes into the policy's jwks (see 'jwtgate jwk').

--exp 0 omits exp; a negative duration gives an already expired token.
--claim values are JSON when they parse as JSON (42, true, ["a","b"]), else
strings; a.b=v sets a nested claim (\. is a literal dot). Extra claims are
applied last. In the environment, JWTGATE_AUD is a comma list and
JWTGATE_CLAIM holds one assignment per line.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: a.token,
	}
	f := cmd.Flags()
	f.String("key", "", "PEM private key file (PKCS#1, PKCS#8 or EC); RSA signs RS256, P-256 ES256, P-384 ES384, P-521 ES512")
	f.String("iss", "", "issuer (iss)")
	f.String("sub", "", "subject (sub)")
	f.StringArray("aud", nil, "audience (aud), repeatable")
	f.StringArray("claim", nil, "extra claim k=v, repeatable")
	f.Duration("exp", time.Hour, "lifetime from now; 0 = no exp, negative = expired")
	f.String("kid", "", "key id header (default: the key's thumbprint)")
	return cmd
}

// publicOnly says what data holds when it has a public key or certificate
// PEM block but no private key block: "public key" or "certificate"; else "".
func publicOnly(data []byte) string {
	kind := ""
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			return kind
		}
		switch block.Type {
		case "RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
			return ""
		case "PUBLIC KEY", "RSA PUBLIC KEY":
			if kind == "" {
				kind = "public key"
			}
		case "CERTIFICATE":
			if kind == "" {
				kind = "certificate"
			}
		}
		data = rest
	}
}

func (a *app) token(cmd *cobra.Command, _ []string) error {
	keyFile, iss := a.str("key"), a.str("iss")
	if keyFile == "" || iss == "" {
		return usageErr("token needs --key and --iss")
	}
	exp, err := a.duration("exp")
	if err != nil {
		return err
	}
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return usageErr("--key: %v", err)
	}
	key, err := jwks.ParsePrivateKey(data)
	if err != nil {
		if kind := publicOnly(data); kind != "" {
			return failure("%s: this is a %s; --key needs the private key (e.g. rsa-private-key.pem)", keyFile, kind)
		}
		return failure("%s: %v", keyFile, err)
	}
	claims := map[string]any{}
	for _, c := range a.list(cmd, "claim", "\n") {
		if err := jwks.SetClaim(claims, c); err != nil {
			return usageErr("%v", err)
		}
	}
	tok, err := jwks.Sign(key, jwks.TokenOptions{
		Issuer:    iss,
		Subject:   a.str("sub"),
		Audiences: a.list(cmd, "aud", ","),
		ExpiresIn: exp,
		Claims:    claims,
		KeyID:     a.str("kid"),
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(cmd.OutOrStdout(), tok)
	return err
}
