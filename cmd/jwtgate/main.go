// Command jwtgate is an xDS control plane that turns Istio-style JWT
// security policies into Envoy configuration, and a small toolbox for keys
// and test tokens.
//
// Exit codes: 0 ok; 1 the command ran and failed (invalid policies, a key
// file without a usable key, a server failure); 2 the invocation is wrong
// (unknown command, flag or config key, a malformed value, a path that does
// not exist or has the wrong type). Only exit 2 prints a hint to the
// command's --help.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/jwtgate/jwtgate/policies"
	"github.com/jwtgate/jwtgate/translate"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // invalid policies, or the server failed
	exitUsage   = 2
)

func main() {
	os.Exit(execute(context.Background(), newRoot(defaultDeps()), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// execute runs root on args and returns the process exit code.
func execute(ctx context.Context, root *cobra.Command, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	code := exitFailure
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	fmt.Fprintf(stderr, "jwtgate: %v\n", err)
	if code == exitUsage {
		if cmd == nil {
			cmd = root
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// exitError carries an exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr is an error in the invocation: exit 2 with a hint to --help.
func usageErr(format string, args ...any) error {
	return &exitError{exitUsage, fmt.Errorf(format, args...)}
}

// failure is an error of a command that ran: exit 1, no usage hint.
func failure(format string, args ...any) error {
	return &exitError{exitFailure, fmt.Errorf(format, args...)}
}

// usageArgs turns an argument validation failure into a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &exitError{exitUsage, err}
		}
		return nil
	}
}

// deps are the stages the commands call; tests replace them.
type deps struct {
	load      func(dir string) (*policies.Set, error)
	watch     func(ctx context.Context, dir string, opts policies.WatchOptions, publish func(*policies.Set), onError func(error)) error
	translate func(*policies.Set, policies.Identity, translate.Options) (*translate.Resources, error)
}

func defaultDeps() deps {
	return deps{load: policies.Load, watch: policies.Watch, translate: translate.Translate}
}

// app is the state shared by the commands of one invocation.
type app struct {
	deps
	v   *viper.Viper
	log *slog.Logger
}

func newRoot(d deps) *cobra.Command {
	a := &app{deps: d, v: viper.New()}
	root := &cobra.Command{
		Use:   "jwtgate",
		Short: "xDS control plane for JWT authentication and authorization at a plain Envoy",
		Long: `jwtgate reads Istio-style Gateway, VirtualService, RequestAuthentication and
AuthorizationPolicy YAML from a folder and serves it to Envoy over ADS.

Every flag can also be set in the --config YAML file (key = flag name) or in
the environment as JWTGATE_<FLAG>, upper case with '-' as '_'
(e.g. JWTGATE_XDS_ADDR). Flags win over the environment, which wins over the
config file. A config key that is no flag name is an error (exit 2).`,
		Version:           versionLine(readBuildInfo()),
		Args:              usageArgs(cobra.NoArgs),
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: a.setup,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.Help()
			return usageErr("no command given")
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{exitUsage, err} })
	pf := root.PersistentFlags()
	pf.String("config", "", "YAML config file with flag values")
	pf.String("log-level", "info", "log level: debug, info, warn or error")
	pf.String("log-format", "text", "log format: text or json")
	root.AddCommand(a.serveCmd(), a.validateCmd(), a.renderCmd(), a.jwkCmd(), a.tokenCmd(), versionCmd())
	return root
}

// setup binds flags, environment and config file, and builds the logger.
func (a *app) setup(cmd *cobra.Command, _ []string) error {
	a.v.SetEnvPrefix("JWTGATE")
	a.v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	a.v.AutomaticEnv()
	a.v.SetDefault("log-level", "info")
	a.v.SetDefault("log-format", "text")
	for _, fs := range []*pflag.FlagSet{cmd.Flags(), cmd.InheritedFlags()} {
		if err := a.v.BindPFlags(fs); err != nil {
			return err
		}
	}
	if file := a.v.GetString("config"); file != "" {
		if err := checkConfigKeys(file, configKeys(cmd.Root())); err != nil {
			return err
		}
		a.v.SetConfigFile(file)
		a.v.SetConfigType("yaml")
		if err := a.v.ReadInConfig(); err != nil {
			return usageErr("config %s: %v", file, err)
		}
	}
	var level slog.Level
	if l := a.v.GetString("log-level"); level.UnmarshalText([]byte(l)) != nil {
		return usageErr("--log-level %q: want debug, info, warn or error", l)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch f := a.v.GetString("log-format"); f {
	case "text":
		a.log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), hopts))
	case "json":
		a.log = slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), hopts))
	default:
		return usageErr("--log-format %q: want text or json", f)
	}
	return nil
}

// str returns a string setting.
func (a *app) str(key string) string { return a.v.GetString(key) }

// integer returns an integer setting in [min, max]; unlike viper's own
// conversion, a malformed value is an error, not zero.
func (a *app) integer(key string, min, max int64) (int64, error) {
	raw := strings.TrimSpace(fmt.Sprint(a.v.Get(key)))
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < min || n > max {
		return 0, usageErr("--%s %q: want an integer from %d to %d", key, raw, min, max)
	}
	return n, nil
}

// duration returns a duration setting.
func (a *app) duration(key string) (time.Duration, error) {
	raw := strings.TrimSpace(fmt.Sprint(a.v.Get(key)))
	d, err := time.ParseDuration(raw)
	if err != nil {
		return 0, usageErr("--%s %q: want a duration such as 1h or -5m", key, raw)
	}
	return d, nil
}

// list returns a repeatable setting: the flag's values when given on the
// command line, else the environment or config value, where a string is
// split at sep (',' or '\n').
func (a *app) list(cmd *cobra.Command, key, sep string) []string {
	if f := cmd.Flags().Lookup(key); f != nil && f.Changed {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			return sv.GetSlice()
		}
	}
	var out []string
	switch x := a.v.Get(key).(type) {
	case string:
		for _, s := range strings.Split(x, sep) {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	case []string:
		out = x
	case []any:
		for _, s := range x {
			out = append(out, fmt.Sprint(s))
		}
	}
	return out
}
