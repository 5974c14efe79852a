// Package configs embeds the demo consortium's ready-made files, so that
// `caravan devnet` can lay them out in any directory:
//
//   - policies/*.cedar: the data owners' Cedar policies (one bundle, used by
//     every demo org for its own datasets);
//   - policies/tests.yaml: their decision table, run by
//     `caravan policy test configs/policies configs/policies/tests.yaml`.
//
// gateway.example.yaml documents every gateway setting.
package configs

import (
	"embed"
	"io/fs"
)

//go:embed policies/*.cedar policies/tests.yaml
var embedded embed.FS

// Policies is the demo policy directory: its .cedar files and tests.yaml.
func Policies() fs.FS {
	sub, err := fs.Sub(embedded, "policies")
	if err != nil {
		panic(err) // cannot happen: the directory is embedded
	}
	return sub
}
