// Package policy will hold the Cedar policy engine: bundles, per-record
// decisions, explanations and tests. Not implemented yet: see issue 4.
package policy
