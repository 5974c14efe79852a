// Package journal will hold the C2SP transparency log: appends, checkpoints,
// witnessing and proofs. Not implemented yet: see issue 5.
package journal
