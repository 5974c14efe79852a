package devnet

import (
	"errors"
	"strings"
	"testing"
)

// A second devnet on a directory already running refuses, and says so.
func TestSecondDevnetOnOneDirectoryRefuses(t *testing.T) {
	dir := t.TempDir()
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(dir); !errors.Is(err, ErrRunning) || !strings.Contains(err.Error(), "another --dir") {
		t.Fatalf("a second devnet: %v", err)
	}
	unlock()
	again, err := Lock(dir)
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	again()
}
