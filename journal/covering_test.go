package journal_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// TestCheckpointCovering: right after an append, without waiting for
// tessera's next publication, the log gives a checkpoint of the whole
// integrated tree, which includes the entry; its root is the RFC 6962 root
// of exactly the entries appended (at sizes that cross tile and bundle
// boundaries), and at a size tessera also publishes, the two notes are the
// same bytes.
func TestCheckpointCovering(t *testing.T) {
	ctx := context.Background()
	m := newMember(t, "customs-a")
	l := openLog(t, m, t.TempDir())
	v := m.logVerifier(t)
	rf := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewEmptyRange(0)
	n := 0
	for _, batch := range []int{1, 2, 255, 1, 300} {
		// The previous append's checkpoint was just published: a new
		// entry's would come an interval or two later.
		// Appended at once (so batched), then hashed in index order.
		datas := make([][]byte, batch)
		idx := make([]uint64, batch)
		errs := make([]error, batch)
		var wg sync.WaitGroup
		for i := range batch {
			data, err := event(m.org, n+i).Encode()
			if err != nil {
				t.Fatal(err)
			}
			datas[i] = data
			wg.Go(func() { idx[i], errs[i] = l.AppendRaw(ctx, data) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		byIndex := make([][]byte, batch)
		for i, x := range idx {
			byIndex[x-uint64(n)] = datas[i]
		}
		for _, data := range byIndex {
			if err := rf.Append(rfc6962.DefaultHasher.HashLeaf(data), nil); err != nil {
				t.Fatal(err)
			}
		}
		n += batch
		last := uint64(n - 1)
		raw, err := l.CheckpointCovering(ctx, last)
		if err != nil {
			t.Fatal(err)
		}
		nt, err := note.Open(raw, note.VerifierList(v))
		if err != nil {
			t.Fatalf("covering checkpoint does not verify: %v\n%s", err, raw)
		}
		var c log.Checkpoint
		if _, err := c.Unmarshal([]byte(nt.Text)); err != nil {
			t.Fatal(err)
		}
		if c.Origin != m.origin || c.Size != uint64(n) {
			t.Fatalf("checkpoint %q size %d, want %q size %d", c.Origin, c.Size, m.origin, n)
		}
		want, err := rf.GetRootHash(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.Hash, want) {
			t.Fatalf("size %d: root %x, want %x", n, c.Hash, want)
		}
		// Tessera publishes this size too, in its time: the same note.
		if pub := waitCheckpoint(t, l, v, uint64(n)); !bytes.Equal(pub, raw) {
			t.Fatalf("size %d: tessera published\n%s\nwe signed\n%s", n, pub, raw)
		}
		// Now published, it is returned as is.
		again, err := l.CheckpointCovering(ctx, last)
		if err != nil || !bytes.Equal(again, raw) {
			t.Fatalf("covered by the published checkpoint: %v\n%s", err, again)
		}
	}
	if _, err := l.CheckpointCovering(ctx, uint64(n)); err == nil {
		t.Fatal("a checkpoint covering an entry never appended")
	}
}
