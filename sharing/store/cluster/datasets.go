package cluster

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/caravan-consortium/caravan/sharing/manifest"
	"github.com/caravan-consortium/caravan/sharing/store"
)

// dataset is a committed dataset's row: where its objects are, and how
// they are laid out.
type dataset struct {
	session string // hex
	records uint64
	layout  int
}

// The layouts of a dataset's group objects (caravan_datasets.layout).
const (
	// layoutSplit, of datasets published before schema version 3: a
	// group's records and its attributes in two objects,
	// data/SESSION/r/NNNNNNNNNN and data/SESSION/a/NNNNNNNNNN.
	layoutSplit = 1
	// layoutPair: one pair object (pair.go) per group,
	// data/SESSION/g/NNNNNNNNNN.
	layoutPair = 2
)

// part is what of a group a read wants.
type part byte

const (
	records    part = 'r'
	attributes part = 'a'
)

// key is the object that holds part p of group g.
func (d dataset) key(p part, g uint64) string {
	if d.layout == layoutSplit {
		return fmt.Sprintf("%s%s/%c/%010d", prefixData, d.session, p, g)
	}
	return fmt.Sprintf("%s%s/g/%010d", prefixData, d.session, g)
}

func treeKey(session string) string { return prefixData + session + "/tree" }

// dataset looks up (and keeps) where a manifest's records are, or
// store.ErrNotFound.
func (s *Store) dataset(manifest cid.Cid) (dataset, error) {
	k := manifest.KeyString()
	s.mu.Lock()
	d, ok := s.datasets[k]
	s.mu.Unlock()
	if ok {
		return d, nil
	}
	var id []byte
	err := s.db.QueryRow("SELECT session, records, layout FROM caravan_datasets WHERE manifest = ?", manifest.Bytes()).Scan(&id, &d.records, &d.layout)
	if errors.Is(err, sql.ErrNoRows) {
		return d, store.ErrNotFound
	}
	if err != nil {
		return d, err
	}
	d.session = hex.EncodeToString(id)
	s.mu.Lock()
	s.datasets[k] = d
	s.mu.Unlock()
	return d, nil
}

// session is a publish in progress: its groups go to the bucket as they
// fill, under a session id marked pending in the database (touched at each
// group, so that no node sweeps a live publish); Commit writes the
// statement and the dataset's row in one transaction.
type session struct {
	s       *Store
	id      []byte
	hexID   string
	up      *uploader
	recs    groupWriter
	attrs   groupWriter
	group   uint64
	tree    *groupTrees
	size    uint64
	touched time.Time
	buf     []byte
}

// NewSession starts a publish.
func (s *Store) NewSession() (store.Session, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	if _, err := s.db.Exec("INSERT INTO caravan_sessions (session, touched) VALUES (?, ?)", id, time.Now().UnixMilli()); err != nil {
		return nil, fmt.Errorf("cluster database: %w", err)
	}
	return &session{s: s, id: id, hexID: hex.EncodeToString(id), up: newUploader(s.bucket), tree: newGroupTrees(), touched: time.Now()}, nil
}

// Put stages a record; indices must be 0, 1, 2...
func (ss *session) Put(index uint64, c cid.Cid, canonical, attributes []byte) error {
	if index != ss.size {
		return fmt.Errorf("record %d put after %d records", index, ss.size)
	}
	ss.recs.add(index, canonical)
	ss.buf = store.AppendProjection(ss.buf[:0], c, attributes)
	ss.attrs.add(index, ss.buf)
	ss.tree.addCID(c)
	ss.size++
	if ss.recs.count == groupSize {
		return ss.flush()
	}
	return nil
}

// flush sends the current group's objects and marks the session alive.
func (ss *session) flush() error {
	if ss.recs.count == 0 {
		return nil
	}
	ctx := context.Background()
	d := dataset{session: ss.hexID, layout: layoutPair}
	if err := ss.up.put(ctx, d.key(records, ss.group), ss.attrs.buf, ss.recs.buf, ss.tree.flushed()); err != nil {
		return err
	}
	ss.recs.reset()
	ss.attrs.reset()
	ss.group++
	if time.Since(ss.touched) > time.Second {
		ss.touched = time.Now()
		if _, err := ss.s.db.Exec("UPDATE caravan_sessions SET touched = ? WHERE session = ?", ss.touched.UnixMilli(), ss.id); err != nil {
			return fmt.Errorf("cluster database: %w", err)
		}
	}
	return nil
}

// Commit makes the records and the manifest statement visible.
func (ss *session) Commit(st *manifest.Statement) error { return ss.CommitSealed(st, nil) }

// CommitSealed waits for every object to be stored, then writes the
// statement (held, not shared, if sealed announces it), the dataset's row
// and the end of the session in one transaction.
func (ss *session) CommitSealed(st, sealed *manifest.Statement) error {
	if err := ss.flush(); err != nil {
		return err
	}
	if err := ss.up.put(context.Background(), treeKey(ss.hexID), ss.tree.marshalTop()); err != nil {
		return err
	}
	if err := ss.up.wait(); err != nil {
		return err
	}
	return ss.s.tx(context.Background(), func(tx *sql.Tx) error {
		if sealed != nil {
			if err := putStatements(tx, []*manifest.Statement{st}, true); err != nil {
				return err
			}
			if err := putStatements(tx, []*manifest.Statement{sealed}, false); err != nil {
				return err
			}
		} else if err := putStatements(tx, []*manifest.Statement{st}, false); err != nil {
			return err
		}
		if _, err := tx.Exec("INSERT INTO caravan_datasets (manifest, session, records, layout) VALUES (?, ?, ?, ?)",
			st.CID().Bytes(), ss.id, ss.size, layoutPair); err != nil {
			return err
		}
		res, err := tx.Exec("DELETE FROM caravan_sessions WHERE session = ?", ss.id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			// Another node took this publish for dead and removed its
			// objects: nothing of it may become visible.
			return errors.New("the publish was idle too long and was removed; publish again")
		}
		return nil
	})
}

// Abort removes what the session staged.
func (ss *session) Abort() error {
	_ = ss.up.wait()
	return ss.s.dropSession(context.Background(), ss.id)
}

// Records calls fn with each record's canonical bytes, in order.
func (s *Store) Records(manifest cid.Cid, fn func(index uint64, canonical []byte) error) error {
	d, err := s.dataset(manifest)
	if err != nil {
		return err
	}
	return s.scan(d, records, fn)
}

// scan reads a dataset's groups in order, the next one while fn works on
// the current one.
func (s *Store) scan(d dataset, p part, fn func(uint64, []byte) error) error {
	groups := (d.records + groupSize - 1) / groupSize
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type read struct {
		es  []entry
		err error
	}
	next := make(chan read, 2)
	go func() {
		defer close(next)
		for g := range groups {
			es, err := s.bucket.part(ctx, d, p, g, s.bucket.get)
			select {
			case next <- read{es, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for r := range next {
		if r.err != nil {
			return r.err
		}
		for _, e := range r.es {
			if err := fn(e.index, e.value); err != nil {
				return err
			}
		}
	}
	return nil
}

// RecordsAt is Records for indices (ascending) only.
func (s *Store) RecordsAt(manifest cid.Cid, indices iter.Seq[uint64], fn func(index uint64, canonical []byte) error) error {
	d, err := s.dataset(manifest)
	if err != nil {
		return err
	}
	return s.at(d, records, indices, fn)
}

// at reads the entries at indices, a group object at a time (cached).
func (s *Store) at(d dataset, p part, indices iter.Seq[uint64], fn func(uint64, []byte) error) error {
	ctx := context.Background()
	var es []entry
	group := uint64(1<<64 - 1)
	for i := range indices {
		if i >= d.records {
			return fmt.Errorf("record %d is not in the store", i)
		}
		if g := i / groupSize; g != group {
			var err error
			if es, err = s.bucket.cachedPart(ctx, d, p, g); err != nil {
				return err
			}
			group = g
		}
		j := i % groupSize
		if j >= uint64(len(es)) || es[j].index != i {
			return fmt.Errorf("record %d is not in the store", i)
		}
		if err := fn(i, es[j].value); err != nil {
			return err
		}
	}
	return nil
}

// Attributes calls fn with each record's CID and projection, in order.
func (s *Store) Attributes(manifest cid.Cid, fn func(index uint64, c cid.Cid, projection []byte) error) error {
	d, err := s.dataset(manifest)
	if err != nil {
		return err
	}
	return s.scan(d, attributes, func(i uint64, v []byte) error { return store.Projected(i, v, fn) })
}

// AttributesAt is Attributes for indices (ascending) only.
func (s *Store) AttributesAt(manifest cid.Cid, indices iter.Seq[uint64], fn func(index uint64, c cid.Cid, projection []byte) error) error {
	d, err := s.dataset(manifest)
	if err != nil {
		return err
	}
	return s.at(d, attributes, indices, func(i uint64, v []byte) error { return store.Projected(i, v, fn) })
}
