package journal

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/transparency-dev/tessera/api/layout"
)

// Source serves a log in the tlog-tiles layout: a tessera.LogReader, a
// client.HTTPFetcher (over libp2p HTTP between gateways) or a directory.
type Source interface {
	ReadCheckpoint(ctx context.Context) ([]byte, error)
	ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error)
	ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error)
}

// DirSource reads a tlog-tiles directory (an org's own log, or a mirror). A
// partial tile or bundle that is gone (tessera collects them once the full
// one exists) is cut from a wider one: a partial of width w is the prefix of
// any wider tile at the same coordinates.
type DirSource string

func (d DirSource) ReadCheckpoint(context.Context) ([]byte, error) {
	return os.ReadFile(CheckpointPath(string(d)))
}

func (d DirSource) ReadTile(_ context.Context, level, index uint64, p uint8) ([]byte, error) {
	return d.read(func(w uint8) string { return layout.TilePath(level, index, w) }, p, 32)
}

func (d DirSource) ReadEntryBundle(_ context.Context, index uint64, p uint8) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(string(d), layout.EntriesPath(index, p)))
	if err == nil || p == 0 || !errors.Is(err, fs.ErrNotExist) {
		return data, err
	}
	// Bundles are length-prefixed entries: cut the first p from a wider one.
	for w := 0; w <= 255; w++ {
		if w != 0 && uint8(w) <= p {
			continue
		}
		wide, err := os.ReadFile(filepath.Join(string(d), layout.EntriesPath(index, uint8(w))))
		if err != nil {
			continue
		}
		return cutBundle(wide, int(p))
	}
	return nil, fs.ErrNotExist
}

func (d DirSource) read(path func(w uint8) string, p uint8, unit int) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(string(d), path(p)))
	if err == nil || p == 0 || !errors.Is(err, fs.ErrNotExist) {
		return data, err
	}
	for w := 0; w <= 255; w++ {
		if w != 0 && uint8(w) <= p {
			continue
		}
		wide, err := os.ReadFile(filepath.Join(string(d), path(uint8(w))))
		if err != nil || len(wide) < int(p)*unit {
			continue
		}
		return wide[:int(p)*unit], nil
	}
	return nil, fs.ErrNotExist
}

// cutBundle returns the first n entries of an entry bundle (each entry is a
// big-endian uint16 length and the bytes).
func cutBundle(b []byte, n int) ([]byte, error) {
	off := 0
	for range n {
		if off+2 > len(b) {
			return nil, errors.New("journal: short entry bundle")
		}
		l := int(b[off])<<8 | int(b[off+1])
		off += 2 + l
		if off > len(b) {
			return nil, errors.New("journal: short entry bundle")
		}
	}
	return b[:off], nil
}

// widened reads a Source whose partial tiles and bundles may have been
// collected once the full ones exist (tessera's garbage collection): a
// partial that is gone is cut from the full tile or bundle.
type widened struct{ Source }

func (w widened) ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	data, err := w.Source.ReadTile(ctx, level, index, p)
	if err == nil || p == 0 || !errors.Is(err, fs.ErrNotExist) {
		return data, err
	}
	full, err := w.Source.ReadTile(ctx, level, index, 0)
	if err != nil {
		return nil, err
	}
	if len(full) < int(p)*32 {
		return nil, fs.ErrNotExist
	}
	return full[:int(p)*32], nil
}

func (w widened) ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error) {
	data, err := w.Source.ReadEntryBundle(ctx, index, p)
	if err == nil || p == 0 || !errors.Is(err, fs.ErrNotExist) {
		return data, err
	}
	full, err := w.Source.ReadEntryBundle(ctx, index, 0)
	if err != nil {
		return nil, err
	}
	return cutBundle(full, int(p))
}
