package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is set at link time: -ldflags "-X main.version=v1.2.3" (make
// build passes `git describe --tags --always --dirty`).
var version = ""

// buildInfo describes the running binary.
type buildInfo struct {
	Version  string // link-time version, else the module version, else "devel"
	Revision string // VCS commit, "" when unknown
	Time     string // VCS commit time (RFC 3339), "" when unknown
	Modified bool   // the work tree had uncommitted changes
}

// readBuildInfo returns the build information of the running binary.
func readBuildInfo() buildInfo {
	bi, _ := debug.ReadBuildInfo()
	return buildInfoFrom(version, bi)
}

// buildInfoFrom combines the link-time version with Go's build
// information (module version and the vcs.* settings `go build` stamps
// from a git work tree); bi may be nil.
func buildInfoFrom(linked string, bi *debug.BuildInfo) buildInfo {
	out := buildInfo{Version: linked}
	if bi == nil {
		if out.Version == "" {
			out.Version = "devel"
		}
		return out
	}
	if out.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		out.Version = bi.Main.Version
	}
	if out.Version == "" {
		out.Version = "devel"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			out.Revision = s.Value
		case "vcs.time":
			out.Time = s.Value
		case "vcs.modified":
			out.Modified = s.Value == "true"
		}
	}
	return out
}

// String is the one-line version: "v1.2.3 (commit 0123456789ab,
// 2025-01-02T03:04:05Z, modified)", or just the version without VCS data.
func (b buildInfo) String() string {
	var vcs []string
	if b.Revision != "" {
		rev := b.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		vcs = append(vcs, "commit "+rev)
	}
	if b.Time != "" {
		vcs = append(vcs, b.Time)
	}
	if b.Modified {
		vcs = append(vcs, "modified")
	}
	if len(vcs) == 0 {
		return b.Version
	}
	return b.Version + " (" + strings.Join(vcs, ", ") + ")"
}

// buildVersion is the version string the serve log reports.
func buildVersion() string { return readBuildInfo().String() }

// versionLine is what `jwtgate version` and `jwtgate --version` print.
func versionLine(b buildInfo) string {
	return fmt.Sprintf("jwtgate %s %s %s/%s", b, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the jwtgate version, commit and Go version (same as --version)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), versionLine(readBuildInfo()))
			return err
		},
	}
}
