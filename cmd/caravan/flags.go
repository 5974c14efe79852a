package main

import "github.com/spf13/cobra"

// gatewayDir is the usage of the --dir flag of commands that act on a
// gateway.
const gatewayDir = "gateway data directory (required)"

// dirFlag adds the required --dir flag to c, stored in dir.
func dirFlag(c *cobra.Command, dir *string, usage string) {
	c.Flags().StringVar(dir, "dir", "", usage)
	_ = c.MarkFlagRequired("dir")
}

// jsonFlag adds the --json flag to c, stored in p.
func jsonFlag(c *cobra.Command, p *bool) {
	c.Flags().BoolVar(p, "json", false, "print JSON")
}
