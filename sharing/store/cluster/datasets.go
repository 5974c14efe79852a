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
	// layoutPair, of datasets published on schema version 3: one pair
	// object (pair.go) per group, data/SESSION/g/NNNNNNNNNN.
	layoutPair = 2
	// layoutBlocks: a pair object per group with its records and tree
	// nodes (its attributes empty), and the attributes of blockGroups
	// groups in one block object, data/SESSION/b/NNNNNNNNNN (numbered by
	// block). Deciding reads every selected record's attributes before
	// the stream reads its records: one GET per 8,192 records to decide,
	// not one per 1,024 (each GET costs the S3 server about 0.45 ms of
	// CPU, whatever the size up to 540 KB: measured; a block of the
	// scenario's 8,192 projections is 481 KB, a pair object 208 KB).
	layoutBlocks = 3
)

// blockGroups is how many groups' attributes one block object holds.
const blockGroups = 8

// span is how many groups the object holding part p of a group spans.
func (d dataset) span(p part) uint64 {
	if d.layout == layoutBlocks && p == attributes {
		return blockGroups
	}
	return 1
}

// part is what of a group a read wants.
type part byte

const (
	records    part = 'r'
	attributes part = 'a'
)

// key is the object that holds part p of group g.
func (d dataset) key(p part, g uint64) string {
	switch {
	case d.layout == layoutSplit:
		return fmt.Sprintf("%s%s/%c/%010d", prefixData, d.session, p, g)
	case d.span(p) > 1:
		return fmt.Sprintf("%s%s/b/%010d", prefixData, d.session, g/d.span(p))
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
	switch d.layout {
	case layoutSplit, layoutPair, layoutBlocks:
	default:
		return d, fmt.Errorf("dataset %s: object layout %d is unknown to this build (a newer one stored it): upgrade this node", manifest, d.layout)
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
	attrs   groupWriter // the current block's
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

// flush sends the current group's pair object (and its block, when the
// group is the block's last) and marks the session alive.
func (ss *session) flush() error {
	if ss.recs.count == 0 {
		return nil
	}
	if err := ss.up.put(context.Background(), ss.layout().key(records, ss.group), nil, ss.recs.buf, ss.tree.flushed()); err != nil {
		return err
	}
	ss.recs.reset()
	if ss.group%blockGroups == blockGroups-1 {
		if err := ss.flushBlock(ss.group); err != nil {
			return err
		}
	}
	ss.group++
	if time.Since(ss.touched) > time.Second {
		ss.touched = time.Now()
		if _, err := ss.s.db.Exec("UPDATE caravan_sessions SET touched = ? WHERE session = ?", ss.touched.UnixMilli(), ss.id); err != nil {
			return fmt.Errorf("cluster database: %w", err)
		}
	}
	return nil
}

// layout is where the session's objects go: the layout it writes.
func (ss *session) layout() dataset { return dataset{session: ss.hexID, layout: layoutBlocks} }

// flushBlock sends the attributes of the block that ends with group g.
func (ss *session) flushBlock(g uint64) error {
	if ss.attrs.count == 0 {
		return nil
	}
	if err := ss.up.put(context.Background(), ss.layout().key(attributes, g), ss.attrs.buf); err != nil {
		return err
	}
	ss.attrs.reset()
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
	if ss.group > 0 {
		if err := ss.flushBlock(ss.group - 1); err != nil {
			return err
		}
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
			st.CID().Bytes(), ss.id, ss.size, layoutBlocks); err != nil {
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

// scan reads a dataset's objects holding part p in order, the next one
// while fn works on the current one.
func (s *Store) scan(d dataset, p part, fn func(uint64, []byte) error) error {
	span := d.span(p)
	objects := (d.records + span*groupSize - 1) / (span * groupSize)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type read struct {
		es  []entry
		err error
	}
	next := make(chan read, 2)
	go func() {
		defer close(next)
		for o := range objects {
			es, err := s.bucket.part(ctx, d, p, o*span, s.bucket.get)
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

// at reads the entries at indices, an object at a time (cached).
func (s *Store) at(d dataset, p part, indices iter.Seq[uint64], fn func(uint64, []byte) error) error {
	ctx := context.Background()
	var es []entry
	width := d.span(p) * groupSize // records an object holds
	object := uint64(1<<64 - 1)
	for i := range indices {
		if i >= d.records {
			return fmt.Errorf("record %d is not in the store", i)
		}
		if o := i / width; o != object {
			var err error
			if es, err = s.bucket.cachedPart(ctx, d, p, o*d.span(p)); err != nil {
				return err
			}
			object = o
		}
		j := i % width
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
