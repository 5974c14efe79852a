package cluster

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minlz"
)

// groupSize is how many consecutive records one object holds: about 1 MiB
// of 1 KiB records, what a fetch chunk carries, so a chunk reads one or
// two objects.
const groupSize = 1024

// A group object is a run of entries, each uvarint(index), uvarint(length)
// and the value: a record's canonical bytes, or a projection (a CID,
// length-prefixed, then the canonical attributes), as the embedded store
// keeps them; compressed whole in MinLZ's block format (as Pebble
// compresses the embedded store's blocks).
type groupWriter struct {
	buf   []byte
	count int
}

func (g *groupWriter) add(index uint64, value []byte) {
	g.buf = binary.AppendUvarint(g.buf, index)
	g.buf = binary.AppendUvarint(g.buf, uint64(len(value)))
	g.buf = append(g.buf, value...)
	g.count++
}

// reset starts the next group in another buffer (the last one is being
// uploaded) as large as the last: growing one by doubling copied each
// group's bytes about twice more.
func (g *groupWriter) reset() { g.buf, g.count = getBuf(len(g.buf)+len(g.buf)/8), 0 }

// Group objects are built and compressed in buffers of about a MiB, two
// per group published: allocated anew, they were 2 GB of allocation and
// zeroing per million records, and the garbage collections that came with
// it (2.5% of a publishing node's CPU in zeroing alone, profiled). A buffer
// is recycled once its object is stored.
var bufs sync.Pool

// minPooled is the smallest buffer worth recycling.
const minPooled = 64 << 10

// getBuf returns an empty buffer of at least n bytes' capacity.
func getBuf(n int) []byte {
	if p, ok := bufs.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:0]
	}
	return make([]byte, 0, n)
}

// putBuf recycles b, which nothing may use any more.
func putBuf(b []byte) {
	if cap(b) >= minPooled {
		bufs.Put(&b)
	}
}

// entry is one value of a group object.
type entry struct {
	index uint64
	value []byte
}

// parseGroup splits a group object into its entries (sharing data).
func parseGroup(name string, data []byte) ([]entry, error) {
	var out []entry
	for len(data) > 0 {
		idx, n := binary.Uvarint(data)
		if n <= 0 {
			return nil, fmt.Errorf("object %s: malformed index", name)
		}
		data = data[n:]
		l, n := binary.Uvarint(data)
		if n <= 0 || uint64(len(data)-n) < l {
			return nil, fmt.Errorf("object %s: malformed entry %d", name, idx)
		}
		out = append(out, entry{idx, data[n : n+int(l) : n+int(l)]})
		data = data[n+int(l):]
	}
	return out, nil
}

// bucket reads and writes the cluster's objects, keeping the last groups
// read (a fetch's chunks straddle groups; deciding reads attributes, then
// records, of the same groups) and the last pair objects got (a chunk's
// proof needs the attributes of the group after it before its records).
type bucket struct {
	s3   *s3.Client
	name string

	mu    sync.Mutex
	cache lru[[]entry]
	raw   lru[[]byte]
}

const (
	cachedGroups  = 16
	cachedObjects = 4
)

func newBucket(c *s3.Client, name string) *bucket {
	return &bucket{s3: c, name: name, cache: lru[[]entry]{n: cachedGroups}, raw: lru[[]byte]{n: cachedObjects}}
}

// lru keeps the last n values put, by key; its user locks it.
type lru[V any] struct {
	n     int
	m     map[string]V
	order []string
}

func (c *lru[V]) get(k string) (V, bool) {
	v, ok := c.m[k]
	return v, ok
}

func (c *lru[V]) put(k string, v V) {
	if _, ok := c.m[k]; ok {
		return
	}
	if c.m == nil {
		c.m = make(map[string]V, c.n)
	}
	if len(c.order) == c.n {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	c.m[k] = v
	c.order = append(c.order, k)
}

// putGroup compresses a group object and puts it: one group, or a pair
// object (its attributes, records and tree nodes).
func (b *bucket) putGroup(ctx context.Context, key string, data ...[]byte) error {
	var z []byte
	var err error
	switch len(data) {
	case 1:
		z, err = minlz.Encode(getBuf(minlz.MaxEncodedLen(len(data[0]))), data[0], minlz.LevelFastest)
	case 3:
		z, err = pairObject(data[0], data[1], data[2]) // attributes empty in a block layout
	default:
		err = fmt.Errorf("%d parts", len(data))
	}
	if err != nil {
		return fmt.Errorf("compressing %s: %w", key, err)
	}
	if err := b.put(ctx, key, z); err != nil {
		return err // z is not recycled: the transport may hold it still
	}
	putBuf(z)
	return nil
}

// getGroup gets a group object and parses it.
func (b *bucket) getGroup(ctx context.Context, key string) ([]entry, error) {
	data, err := b.getCompressed(ctx, key)
	if err != nil {
		return nil, err
	}
	return parseGroup(key, data)
}

// getCompressed gets an object that putGroup wrote and decompresses it.
func (b *bucket) getCompressed(ctx context.Context, key string) ([]byte, error) {
	z, err := b.get(ctx, key)
	if err != nil {
		return nil, err
	}
	data, err := minlz.Decode(nil, z)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", key, err)
	}
	return data, nil
}

func (b *bucket) put(ctx context.Context, key string, data []byte) error {
	_, err := b.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.name, Key: &key, Body: bytes.NewReader(data)})
	if err != nil {
		return fmt.Errorf("S3 put %s: %w", key, err)
	}
	return nil
}

var errNoObject = errors.New("no such object")

func (b *bucket) get(ctx context.Context, key string) ([]byte, error) {
	out, err := b.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.name, Key: &key})
	if err != nil {
		var nsk *types.NoSuchKey
		if errors.As(err, &nsk) {
			return nil, fmt.Errorf("S3 get %s: %w", key, errNoObject)
		}
		return nil, fmt.Errorf("S3 get %s: %w", key, err)
	}
	defer out.Body.Close()
	var data []byte
	if n := out.ContentLength; n != nil && *n >= 0 && *n < 1<<30 {
		data = make([]byte, *n) // one allocation, not ReadAll's doublings
		_, err = io.ReadFull(out.Body, data)
	} else {
		data, err = io.ReadAll(out.Body)
	}
	if err != nil {
		return nil, fmt.Errorf("S3 get %s: %w", key, err)
	}
	return data, nil
}

// part reads part p of the object that holds a dataset's group g: the
// group's, or its block's (d.span), getting a pair object with get (b.get,
// or b.cachedObject).
func (b *bucket) part(ctx context.Context, d dataset, p part, g uint64, get func(context.Context, string) ([]byte, error)) ([]entry, error) {
	key := d.key(p, g)
	if d.layout == layoutSplit || d.span(p) > 1 {
		return b.getGroup(ctx, key)
	}
	data, err := get(ctx, key)
	if err != nil {
		return nil, err
	}
	return pairPart(key, data, p)
}

// cachedPart is part, from the caches if they hold the object's part or
// its pair object.
func (b *bucket) cachedPart(ctx context.Context, d dataset, p part, g uint64) ([]entry, error) {
	return through(&b.mu, &b.cache, d.key(p, g)+"#"+string(p), func() ([]entry, error) {
		return b.part(ctx, d, p, g, b.cachedObject)
	})
}

// cachedObject gets an object, or takes it from the cache of the last
// ones got.
func (b *bucket) cachedObject(ctx context.Context, key string) ([]byte, error) {
	return through(&b.mu, &b.raw, key, func() ([]byte, error) { return b.get(ctx, key) })
}

// through returns c's value for k, or loads it (mu not held, so that
// reads go on side by side) and keeps it.
func through[V any](mu *sync.Mutex, c *lru[V], k string, load func() (V, error)) (V, error) {
	mu.Lock()
	v, ok := c.get(k)
	mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	mu.Lock()
	c.put(k, v)
	mu.Unlock()
	return v, nil
}

// removePrefix deletes every object under prefix.
func (b *bucket) removePrefix(ctx context.Context, prefix string) error {
	p := s3.NewListObjectsV2Paginator(b.s3, &s3.ListObjectsV2Input{Bucket: &b.name, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("S3 list %s: %w", prefix, err)
		}
		for _, o := range page.Contents {
			if _, err := b.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.name, Key: o.Key}); err != nil {
				return fmt.Errorf("S3 delete %s: %w", *o.Key, err)
			}
		}
	}
	return nil
}

// uploader puts objects a few at a time in the background, so that a
// publish or a fetch keeps going while the last group travels; wait
// returns the first error.
type uploader struct {
	b    *bucket
	sem  chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
	keys []string
}

func newUploader(b *bucket) *uploader { return &uploader{b: b, sem: make(chan struct{}, 4)} }

// put puts one group (putGroup), or a pair object's parts; the caller
// hands data over (it is recycled once stored).
func (u *uploader) put(ctx context.Context, key string, data ...[]byte) error {
	if err := u.failed(); err != nil {
		return err
	}
	u.sem <- struct{}{}
	u.wg.Add(1)
	u.mu.Lock()
	u.keys = append(u.keys, key)
	u.mu.Unlock()
	go func() {
		defer func() { <-u.sem; u.wg.Done() }()
		if err := u.b.putGroup(ctx, key, data...); err != nil {
			u.mu.Lock()
			if u.err == nil {
				u.err = err
			}
			u.mu.Unlock()
			return
		}
		for _, d := range data {
			putBuf(d)
		}
	}()
	return nil
}

func (u *uploader) failed() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

func (u *uploader) wait() error {
	u.wg.Wait()
	return u.failed()
}
