package journal_test

import (
	"encoding/base64"
	"flag"
	"fmt"
	"strings"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

func journalVerifier(vkey string) (note.Verifier, error) {
	return fnote.NewVerifierForCosignatureV1(vkey)
}

// fmtSscan reads the size line of a checkpoint text.
func fmtSscan(text string, size *uint64) (int, error) {
	lines := strings.Split(text, "\n")
	if len(lines) < 2 {
		return 0, fmt.Errorf("short")
	}
	return fmt.Sscan(lines[1], size)
}

var update = flag.Bool("update", false, "rewrite testdata")

// parseRoot returns a checkpoint note's root hash.
func parseRoot(raw []byte) ([]byte, error) {
	lines := strings.Split(string(raw), "\n")
	if len(lines) < 3 {
		return nil, fmt.Errorf("short checkpoint")
	}
	return base64.StdEncoding.DecodeString(lines[2])
}
