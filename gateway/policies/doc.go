// Package policies holds a gateway's policy bundle in force (Engine): it
// loads the policy directory against the registry's vocabulary, journals
// each bundle before any decision uses it, reloads when a file changes
// (refusing a broken bundle and keeping the old one), waits while the
// registry lacks attributes the policies read, and replaces the files with
// an upload written ahead (files.go), so that a gateway killed halfway
// restarts with the old bundle or the new one. The policy language and
// decisions are package policy's.
package policies
