package roster

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/caravan-consortium/caravan/p2p"
)

// A member's answer to a roster exchange is read within maxAnswer bytes
// in all: a hostile member that answers with frame after frame of the
// largest size makes the asker give up, not hold them all.
func TestAnExchangeAnswerIsBoundedInBytes(t *testing.T) {
	var buf bytes.Buffer
	frame := bytes.Repeat([]byte("x"), maxRosterFrame)
	for range maxAnswer/maxRosterFrame + 2 {
		if err := p2p.WriteFrame(&buf, frame); err != nil {
			t.Fatal(err)
		}
	}
	a := &answer{r: bufio.NewReader(&buf), left: maxAnswer}
	got, err := a.frames(maxDelegations)
	if err == nil || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("an answer of %d bytes: %d frames read, %v", buf.Len(), len(got), err)
	}
	// Within the bound, frames are read up to the empty one.
	buf.Reset()
	for _, f := range [][]byte{[]byte("one"), []byte("two"), nil} {
		if err := p2p.WriteFrame(&buf, f); err != nil {
			t.Fatal(err)
		}
	}
	a = &answer{r: bufio.NewReader(&buf), left: maxAnswer}
	if got, err := a.frames(maxDelegations); err != nil || len(got) != 2 {
		t.Fatalf("a small answer: %q %v", got, err)
	}
}
