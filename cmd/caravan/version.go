package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionInfo is what caravan version prints.
type versionInfo struct {
	Module   string `json:"module"`
	Version  string `json:"version"`            // the module version, "(devel)" for a build from a checkout
	Commit   string `json:"commit,omitempty"`   // the VCS revision it was built from
	Time     string `json:"time,omitempty"`     // the revision's time
	Modified bool   `json:"modified,omitempty"` // built with uncommitted changes
	Go       string `json:"go"`
}

func readVersion() versionInfo {
	v := versionInfo{Version: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Module, v.Version, v.Go = bi.Main.Path, bi.Main.Version, bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func versionCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "version",
		Short: "Print caravan's module version, the commit it was built from, and its Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := readVersion()
			w := cmd.OutOrStdout()
			if asJSON {
				return printJSON(w, v)
			}
			commit := v.Commit
			if commit == "" {
				commit = "unknown"
			}
			if v.Modified {
				commit += " (with uncommitted changes)"
			}
			fmt.Fprintf(w, "caravan %s\ncommit  %s", v.Version, commit)
			if v.Time != "" {
				fmt.Fprintf(w, " of %s", v.Time)
			}
			fmt.Fprintf(w, "\ngo      %s\n", v.Go)
			return nil
		},
	}
	jsonFlag(c, &asJSON)
	return c
}
