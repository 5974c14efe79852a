package fetch

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/caravan-consortium/caravan/internal/cids"
	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// sampleChunk is a small valid chunk of a 5-record tree: records 1 and 3
// sent, 0, 2 and 4 withheld.
func sampleChunk(t testing.TB) (*chunk, manifest.TreeHead) {
	var leaves [][]byte
	var data [][]byte
	var ids []cid.Cid
	for i := range 5 {
		d := []byte(`{"i":` + string(rune('0'+i)) + `}`)
		data = append(data, d)
		ids = append(ids, cids.OfJSON(d))
		leaves = append(leaves, rfc6962.DefaultHasher.HashLeaf(cids.OfJSON(d).Bytes()))
	}
	head, err := manifest.TreeHeadOf(ids)
	if err != nil {
		t.Fatal(err)
	}
	tree := manifest.NewSubtrees(5)
	for _, l := range leaves {
		tree.Add(l)
	}
	c := &chunk{Begin: 0, End: 5, Records: []chunkRecord{{1, data[1]}, {3, data[3]}}}
	c.Gaps = gapsOf(c, tree)
	c.Left, c.Right = rangeHashes(tree, 0, 0), rangeHashes(tree, 5, 5)
	return c, head
}

func TestChunkRoundTripAndVerify(t *testing.T) {
	c, head := sampleChunk(t)
	if err := c.verify(head, manifest.NewTreeHasher(), nil); err != nil {
		t.Fatal(err)
	}
	enc := encodeChunk(nil, c)
	got, err := decodeChunk(enc[1:])
	if err != nil {
		t.Fatal(err)
	}
	if err := got.verify(head, manifest.NewTreeHasher(), nil); err != nil {
		t.Fatal(err)
	}
	// Any changed byte of a record, or a dropped gap, fails.
	got.Records[0].Data = bytes.Clone(got.Records[0].Data)
	got.Records[0].Data[2] ^= 1
	if err := got.verify(head, manifest.NewTreeHasher(), nil); err == nil {
		t.Fatal("a changed record verified")
	}
	got, _ = decodeChunk(enc[1:])
	got.Gaps = got.Gaps[1:]
	if err := got.verify(head, manifest.NewTreeHasher(), nil); err == nil {
		t.Fatal("a chunk with a missing gap verified")
	}
	// The fuzz seed is this chunk; keep it current.
	seed, err := os.ReadFile(filepath.Join("testdata", "chunk.bin"))
	if err != nil || !bytes.Equal(seed, enc[1:]) {
		if err := os.WriteFile(filepath.Join("testdata", "chunk.bin"), enc[1:], 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzDecodeFetchFrame feeds arbitrary bytes to the chunk decoder and the
// verifier: they must not panic, and nothing random may verify.
func FuzzDecodeFetchFrame(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "chunk.bin"))
	if err == nil {
		f.Add(seed)
	}
	f.Add([]byte{0, 5, 0, 0, 0, 0})
	_, head := sampleChunk(f)
	valid := encodeChunk(nil, func() *chunk { c, _ := sampleChunk(f); return c }())[1:]
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeChunk(data)
		if err != nil {
			return
		}
		if c.verify(head, manifest.NewTreeHasher(), nil) == nil && !bytes.Equal(data, valid) {
			// Another encoding of the same records may verify; its records
			// must then be exactly the valid chunk's.
			want, _ := decodeChunk(valid)
			if len(c.Records) != len(want.Records) {
				t.Fatalf("a different chunk verified: %+v", c)
			}
			for i := range c.Records {
				if c.Records[i].Index != want.Records[i].Index || !bytes.Equal(c.Records[i].Data, want.Records[i].Data) {
					t.Fatalf("a different record verified: %+v", c.Records[i])
				}
			}
		}
	})
}

// TestLeafTreeRanges: the tree grown leaf by leaf yields, for every range
// of every size up to 70, the nodes of an RFC 6962 compact range over the
// same leaves (built with the reference hasher).
func TestLeafTreeRanges(t *testing.T) {
	refRanges := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	var ids []cid.Cid
	for i := range 70 {
		ids = append(ids, cids.OfJSON([]byte(`{"i":`+strconv.Itoa(i)+`}`)))
	}
	for n := 1; n <= len(ids); n++ {
		tree := manifest.NewSubtrees(uint64(n / 2)) // room for fewer: it still grows
		for _, c := range ids[:n] {
			tree.AddCID(c)
		}
		for begin := 0; begin <= n; begin++ {
			for end := begin; end <= n; end++ {
				r := refRanges.NewEmptyRange(uint64(begin))
				for _, c := range ids[begin:end] {
					if err := r.Append(rfc6962.DefaultHasher.HashLeaf(c.Bytes()), nil); err != nil {
						t.Fatal(err)
					}
				}
				got := rangeHashes(tree, uint64(begin), uint64(end))
				if want := r.Hashes(); !slices.EqualFunc(got, want, bytes.Equal) {
					t.Fatalf("size %d, range [%d, %d): %x, want %x", n, begin, end, got, want)
				}
			}
		}
	}
}
