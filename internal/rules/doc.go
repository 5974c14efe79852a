// Package rules holds no code: its tests check, by machine, the rules of
// the repository's layout that a reviewer would otherwise have to catch.
//
//   - deps_test.go: an allow-list of the packages of this module that each
//     package may import (as Go's own go/build deps_test.go does), so an
//     unforeseen edge fails; and the external modules that the layers that
//     take plain values must not reach (libp2p, for one).
//   - budget_test.go: no non-test file over 500 lines, no function over 80
//     lines, at most 60 exported names a package; each exception is named
//     in the test with the reason it stands and the issue that removes it.
//
// A new package, or a new import between packages, is one line in
// deps_test.go: say there why the edge belongs.
package rules
