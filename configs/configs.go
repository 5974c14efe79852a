// Package configs embeds the demo consortium's ready-made files, so that
// `caravan devnet` can lay them out in any directory:
//
//   - policies/*.cedar: the data owners' Cedar policies (one bundle, used by
//     every demo org for its own datasets);
//   - policies/tests.yaml: their decision table, run by
//     `caravan policy test configs/policies configs/policies/tests.yaml`;
//   - examples/NAME: an agency's own data, from schema to policy (the
//     README's "Your own datasets"; the demo publishes
//     examples/phytosanitary).
//
// gateway.example.yaml documents every gateway setting.
package configs

import (
	"embed"
	"fmt"
	"io/fs"
)

//go:embed policies/*.cedar policies/tests.yaml examples
var embedded embed.FS

// Policies is the demo policy directory: its .cedar files and tests.yaml.
func Policies() fs.FS {
	sub, err := fs.Sub(embedded, "policies")
	if err != nil {
		panic(err) // cannot happen: the directory is embedded
	}
	return sub
}

// Example is the example directory examples/name.
func Example(name string) (fs.FS, error) {
	if _, err := fs.Stat(embedded, "examples/"+name); err != nil {
		return nil, fmt.Errorf("no example %q: %w", name, err)
	}
	return fs.Sub(embedded, "examples/"+name)
}
