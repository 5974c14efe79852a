// Package poll waits, in tests, for what other goroutines and processes
// bring about: the one poll-until helper of the suite.
package poll

import (
	"bytes"
	"os"
	"testing"
	"time"
)

// Timeout bounds every wait.
const Timeout = 15 * time.Second

// Until calls cond until it reports true, first every millisecond and then
// less often (up to every 20 ms), and fails t if that takes longer than
// Timeout. what names what is awaited, for the failure message.
func Until(t testing.TB, cond func() bool, what string) {
	t.Helper()
	if !wait(cond) {
		t.Fatalf("timed out after %v waiting for %s", Timeout, what)
	}
}

// UntilLogged waits until the file at path (a gateway's log, say) contains
// text, and fails t with the file's content if it does not within Timeout.
func UntilLogged(t testing.TB, path, text string) {
	t.Helper()
	var data []byte
	if !wait(func() bool {
		data, _ = os.ReadFile(path)
		return bytes.Contains(data, []byte(text))
	}) {
		t.Fatalf("timed out after %v waiting for %q in %s:\n%s", Timeout, text, path, data)
	}
}

func wait(cond func() bool) bool {
	deadline := time.Now().Add(Timeout)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, 20*time.Millisecond)
	}
	return true
}
