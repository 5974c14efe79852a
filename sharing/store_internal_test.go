package sharing

import (
	"testing"

	"github.com/caravan-consortium/caravan/internal/cids"
)

// Records of a publish that never committed (the process died between
// staging and commit) are gone when the store is opened again.
func TestOpenDropsUncommittedPublish(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := s.newSession()
	if err != nil {
		t.Fatal(err)
	}
	var recs []Record
	for i := range 1000 {
		canon := []byte(`{"i":` + string(rune('0'+i%10)) + `}`)
		recs = append(recs, Record{Index: uint64(i), CID: cids.OfJSON(canon), Canonical: canon})
	}
	if err := ss.add(recs); err != nil {
		t.Fatal(err)
	}
	if err := ss.batch.Commit(nil); err != nil { // flushed, as a long publish would
		t.Fatal(err)
	}
	if st, _ := s.Stats(); st.Records != 1000 || st.Pending != 1 {
		t.Fatalf("before the crash: %+v", st)
	}
	s.Close() // no commit: the crash

	s, err = OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st, _ := s.Stats(); st != (StoreStats{}) {
		t.Fatalf("after reopening: %+v, want nothing", st)
	}
}
