// Command token prints a JWT signed with a PEM private key, for check.sh:
//
//	go run ./translate/testdata/envoycheck/token KEY.pem ISSUER [SUBJECT [AUD]]
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/jwtgate/jwtgate/jwks"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: token KEY.pem ISSUER [SUBJECT [AUD]]")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(err)
	}
	key, err := jwks.ParsePrivateKey(data)
	if err != nil {
		fail(err)
	}
	o := jwks.TokenOptions{Issuer: os.Args[2], ExpiresIn: time.Hour}
	if len(os.Args) > 3 {
		o.Subject = os.Args[3]
	}
	if len(os.Args) > 4 {
		o.Audiences = []string{os.Args[4]}
	}
	tok, err := jwks.Sign(key, o)
	if err != nil {
		fail(err)
	}
	fmt.Println(tok)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "token:", err)
	os.Exit(1)
}
