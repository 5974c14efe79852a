package cluster

import (
	"container/heap"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/sharing/store"
)

// stage holds a response's verified records in memory, a group at a time
// in flight to the bucket; Commit waits for the objects, then indexes them
// in one transaction: a record is kept once its row is committed.
type stage struct {
	s        *Store
	manifest []byte
	purpose  string
	id       string
	up       *uploader
	cur      groupWriter
	first    uint64 // the current group's first index
	objects  [][3]any
	last     uint64
	have     bool
}

// NewStage starts staging the records of one response.
func (s *Store) NewStage(m cid.Cid, purpose string) (store.Stage, error) {
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	return &stage{s: s, manifest: m.Bytes(), purpose: purpose, id: hex.EncodeToString(id), up: newUploader(s.bucket)}, nil
}

// Put stages a verified record; indices must ascend.
func (st *stage) Put(index uint64, canonical []byte) error {
	if st.have && index <= st.last {
		return fmt.Errorf("record %d put after %d", index, st.last)
	}
	if st.cur.count == 0 {
		st.first = index
	}
	st.cur.add(index, canonical)
	st.last, st.have = index, true
	if st.cur.count == groupSize {
		return st.flush()
	}
	return nil
}

func (st *stage) flush() error {
	if st.cur.count == 0 {
		return nil
	}
	key := fmt.Sprintf("%s%s/%020d", prefixFetched, st.id, st.first)
	if err := st.up.put(context.Background(), key, st.cur.buf); err != nil {
		return err
	}
	st.objects = append(st.objects, [3]any{st.first, st.last + 1, key})
	st.cur.reset()
	return nil
}

// Commit stores the staged records durably and makes them visible.
func (st *stage) Commit() error {
	if err := st.flush(); err != nil {
		return err
	}
	if err := st.up.wait(); err != nil {
		return err
	}
	if len(st.objects) == 0 {
		return nil
	}
	objects := st.objects
	st.objects = nil
	return st.s.tx(context.Background(), func(tx *sql.Tx) error {
		for _, o := range objects {
			if _, err := tx.Exec("INSERT INTO caravan_fetched (manifest, purpose, first, last, object) VALUES (?, ?, ?, ?, ?)",
				st.manifest, st.purpose, o[0], o[1], o[2]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Abort drops the staged records.
func (st *stage) Abort() {
	_ = st.up.wait()
	_ = st.s.bucket.removePrefix(context.Background(), prefixFetched+st.id+"/")
}

// Fetched calls fn with each record kept for manifest and purpose, in
// order. Responses may overlap (a fetch resumed, or made again): their
// objects are merged, and a record kept twice is given once, as the
// embedded store's keys would hold it.
func (s *Store) Fetched(m cid.Cid, purpose string, fn func(index uint64, canonical []byte) error) error {
	rows, err := s.db.Query("SELECT first, object FROM caravan_fetched WHERE manifest = ? AND purpose = ? ORDER BY first, object",
		m.Bytes(), purpose)
	if err != nil {
		return err
	}
	var objs []fetchedObject
	for rows.Next() {
		var o fetchedObject
		if err := rows.Scan(&o.first, &o.key); err != nil {
			rows.Close()
			return err
		}
		objs = append(objs, o)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	var open cursors
	next, started := uint64(0), false
	for len(objs) > 0 || len(open) > 0 {
		// Open every object that may hold the smallest index left.
		for len(objs) > 0 && (len(open) == 0 || objs[0].first <= open[0].es[0].index) {
			es, err := s.fetchedGroup(objs[0].key)
			if err != nil {
				return err
			}
			if len(es) > 0 {
				heap.Push(&open, &cursor{es: es})
			}
			objs = objs[1:]
		}
		c := open[0]
		e := c.es[0]
		if c.es = c.es[1:]; len(c.es) == 0 {
			heap.Pop(&open)
		} else {
			heap.Fix(&open, 0)
		}
		if started && e.index < next {
			continue // kept twice
		}
		if err := fn(e.index, e.value); err != nil {
			return err
		}
		next, started = e.index+1, true
	}
	return nil
}

type fetchedObject struct {
	first uint64
	key   string
}

func (s *Store) fetchedGroup(key string) ([]entry, error) {
	return s.bucket.getGroup(context.Background(), key)
}

// cursors is a min-heap of objects' remaining entries, by next index.
type cursor struct{ es []entry }
type cursors []*cursor

func (h cursors) Len() int           { return len(h) }
func (h cursors) Less(i, j int) bool { return h[i].es[0].index < h[j].es[0].index }
func (h cursors) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *cursors) Push(x any)        { *h = append(*h, x.(*cursor)) }
func (h *cursors) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
