//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/caravan-consortium/caravan/internal/clusterenv"
	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/store"
)

// TestClusterReadsEveryLayout: a dataset in pair objects and attribute
// blocks (written now), one in pair objects with their attributes (schema
// version 3) and one in split objects (before it) read the same, whole
// and by index, and give the same record tree, node by node (the pair
// objects' stored nodes of levels 8 and 9 among them).
func TestClusterReadsEveryLayout(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, clusterenv.NewSpace(t).Conn(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = (blockGroups+1)*groupSize + 300 // a full block, and a part
	recs, attrs, cids := make([][]byte, n), make([][]byte, n), make([]cid.Cid, n)
	for i := range n {
		recs[i] = fmt.Appendf(nil, `{"i":%d,"pad":"%0900d"}`, i, i)
		attrs[i] = make([]byte, 200)
		rand.Read(attrs[i])
		h, _ := multihash.Sum(recs[i], multihash.SHA2_256, -1)
		cids[i] = cid.NewCidV1(cid.Raw, h)
	}

	// Pair objects and blocks, through a session.
	ss, err := s.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := ss.Put(uint64(i), cids[i], recs[i], attrs[i]); err != nil {
			t.Fatal(err)
		}
	}
	blocks := ss.(*session)
	if err := blocks.flush(); err != nil {
		t.Fatal(err)
	}
	if err := blocks.flushBlock(blocks.group - 1); err != nil {
		t.Fatal(err)
	}
	if err := blocks.up.wait(); err != nil {
		t.Fatal(err)
	}
	// Pair objects with attributes (schema version 3) and split objects
	// (before it), as those builds wrote them.
	pair := dataset{session: "ffeeddccbbaa99887766554433221100", records: n, layout: layoutPair}
	split := dataset{session: "00112233445566778899aabbccddeeff", records: n, layout: layoutSplit}
	trees := newGroupTrees()
	for g := uint64(0); g*groupSize < n; g++ {
		var r, a groupWriter
		for i := g * groupSize; i < min(n, (g+1)*groupSize); i++ {
			r.add(i, recs[i])
			a.add(i, store.AppendProjection(nil, cids[i], attrs[i]))
			trees.addCID(cids[i])
		}
		if err := s.bucket.putGroup(ctx, pair.key(records, g), a.buf, r.buf, trees.flushed()); err != nil {
			t.Fatal(err)
		}
		if err := s.bucket.putGroup(ctx, split.key(records, g), r.buf); err != nil {
			t.Fatal(err)
		}
		if err := s.bucket.putGroup(ctx, split.key(attributes, g), a.buf); err != nil {
			t.Fatal(err)
		}
	}
	// The record trees' top objects, as Commit writes them.
	for _, session := range []string{blocks.hexID, pair.session, split.session} {
		if err := s.bucket.putGroup(ctx, treeKey(session), trees.marshalTop()); err != nil {
			t.Fatal(err)
		}
	}
	ref := manifest.NewSubtrees(n)
	for _, c := range cids {
		ref.AddCID(c)
	}
	manifests := map[string]cid.Cid{}
	for name, d := range map[string]dataset{"blocks": {session: blocks.hexID, records: n, layout: layoutBlocks}, "pair": pair, "split": split} {
		h, _ := multihash.Sum([]byte(name), multihash.SHA2_256, -1)
		m := cid.NewCidV1(cid.DagJSON, h)
		id, _ := hex.DecodeString(d.session)
		if _, err := s.db.Exec("INSERT INTO caravan_datasets (manifest, session, records, layout) VALUES (?, ?, ?, ?)", m.Bytes(), id, d.records, d.layout); err != nil {
			t.Fatal(err)
		}
		manifests[name] = m
	}
	// A layout a newer build wrote is refused, by name.
	h, _ := multihash.Sum([]byte("future"), multihash.SHA2_256, -1)
	future := cid.NewCidV1(cid.DagJSON, h)
	id, _ := hex.DecodeString(pair.session)
	if _, err := s.db.Exec("INSERT INTO caravan_datasets (manifest, session, records, layout) VALUES (?, ?, ?, 9)", future.Bytes(), id, n); err != nil {
		t.Fatal(err)
	}
	if err := s.Records(future, func(uint64, []byte) error { return nil }); err == nil || !strings.Contains(err.Error(), "layout 9 is unknown") {
		t.Fatalf("a dataset of layout 9 read: %v", err)
	}
	some := []uint64{0, 5, groupSize - 1, groupSize, 3*groupSize + 7, blockGroups*groupSize - 1, blockGroups * groupSize, n - 1}
	for name, m := range manifests {
		t.Run(name, func(t *testing.T) {
			var got int
			if err := s.Records(m, func(i uint64, c []byte) error {
				if !bytes.Equal(c, recs[i]) || i != uint64(got) {
					return fmt.Errorf("record %d (the %dth): %.40q", i, got, c)
				}
				got++
				return nil
			}); err != nil || got != n {
				t.Fatalf("Records: %d of %d: %v", got, n, err)
			}
			got = 0
			if err := s.Attributes(m, func(i uint64, c cid.Cid, p []byte) error {
				if !c.Equals(cids[i]) || !bytes.Equal(p, attrs[i]) {
					return fmt.Errorf("attributes of %d differ", i)
				}
				got++
				return nil
			}); err != nil || got != n {
				t.Fatalf("Attributes: %d of %d: %v", got, n, err)
			}
			var at []uint64
			if err := s.RecordsAt(m, slices.Values(some), func(i uint64, c []byte) error {
				if !bytes.Equal(c, recs[i]) {
					return fmt.Errorf("record %d differs", i)
				}
				at = append(at, i)
				return nil
			}); err != nil || !slices.Equal(at, some) {
				t.Fatalf("RecordsAt: %v: %v", at, err)
			}
			tree, err := s.Subtrees(m, n)
			if err != nil {
				t.Fatal(err)
			}
			for l := range ref.Levels() {
				for i := range uint64(len(ref.Level(l)) / 32) {
					if got := tree.Node(l, i); !bytes.Equal(got, ref.Node(l, i)) {
						t.Fatalf("tree node %d of level %d: %x, want %x", i, l, got, ref.Node(l, i))
					}
				}
			}
			if err := tree.(*storedTree).Err(); err != nil {
				t.Fatal(err)
			}
			at = nil
			if err := s.AttributesAt(m, slices.Values(some), func(i uint64, c cid.Cid, p []byte) error {
				if !c.Equals(cids[i]) || !bytes.Equal(p, attrs[i]) {
					return fmt.Errorf("attributes of %d differ", i)
				}
				at = append(at, i)
				return nil
			}); err != nil || !slices.Equal(at, some) {
				t.Fatalf("AttributesAt: %v: %v", at, err)
			}
		})
	}
}
