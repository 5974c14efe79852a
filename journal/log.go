package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/aws"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"

	"github.com/caravan-consortium/caravan/internal/clusterconn"
)

// Defaults of LogConfig.
const (
	DefaultCheckpointInterval = 100 * time.Millisecond // tessera's minimum
	DefaultBatchMaxAge        = 1 * time.Millisecond
	DefaultBatchMaxSize       = 1024
)

// Defaults of LogConfig on cluster storage: tessera's AWS driver signs at
// most one checkpoint a second. A batch is one database transaction; 10
// ms batches keep an append's p99 to durable at 19-33 ms
// (BenchmarkClusterAppend, 1 and 16 writers; 20 ms batches: 31-49 ms, a
// 250 ms batch age about 300 ms), at up to 100 transactions a second per
// node while appends keep coming.
const (
	ClusterCheckpointInterval = time.Second
	ClusterBatchMaxAge        = 10 * time.Millisecond
	// ClusterPushback is how many sequenced entries may wait for
	// integration before appends are pushed back (tessera's default).
	ClusterPushback = 4096
)

// bucketPrefix is where the journal's tiles live in a cluster's bucket.
const bucketPrefix = "journal"

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("journal is closed")

// LogConfig configures Open. Origin, Signer and one of Dir and Cluster are
// required.
type LogConfig struct {
	// Dir holds the log in the C2SP tlog-tiles layout (checkpoint, tile/...),
	// ready to be served as is (tessera's POSIX driver).
	Dir string
	// Cluster, instead of Dir, keeps the log with tessera's AWS driver: its
	// sequence in the cluster's database (MariaDB), its tiles, bundles and
	// checkpoint in the cluster's bucket under journal/. Every node of the
	// org opens the same log: one sequence, one tree.
	Cluster *clusterconn.Conn
	Origin  string
	Signer  note.Signer
	// CheckpointInterval is how often a new checkpoint is signed while there
	// are new entries. Default DefaultCheckpointInterval.
	CheckpointInterval time.Duration
	// BatchMaxSize and BatchMaxAge bound a batch of appends, which is
	// written and synced at once. Defaults above. Appends reach tessera in
	// groups (see groupCommit), so the window only has to cover handing
	// over one group.
	BatchMaxSize uint
	BatchMaxAge  time.Duration
	// Pushback is how many entries may wait for integration before an
	// append is pushed back (and retried). Default: 64 Ki on disk,
	// ClusterPushback on cluster storage.
	Pushback uint
}

func (c *LogConfig) validate() error {
	if (c.Dir == "") == (c.Cluster == nil) || c.Origin == "" || c.Signer == nil {
		return errors.New("journal: Origin, Signer and one of Dir and Cluster are required")
	}
	if c.Signer.Name() != c.Origin {
		return fmt.Errorf("journal: signer %q does not sign for origin %q", c.Signer.Name(), c.Origin)
	}
	if c.CheckpointInterval <= 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
		if c.Cluster != nil {
			c.CheckpointInterval = ClusterCheckpointInterval
		}
	}
	if c.BatchMaxSize == 0 {
		c.BatchMaxSize = DefaultBatchMaxSize
	}
	if c.BatchMaxAge <= 0 {
		c.BatchMaxAge = DefaultBatchMaxAge
		if c.Cluster != nil {
			c.BatchMaxAge = ClusterBatchMaxAge
		}
	}
	return nil
}

// Log is an org's own journal: an append-only tlog-tiles log, on disk
// (tessera's POSIX driver) or on cluster storage (its AWS driver), whose
// checkpoints the org signs.
type Log struct {
	cfg       LogConfig
	appender  *tessera.Appender
	group     *groupCommit
	reader    tessera.LogReader
	shutdown  func(context.Context) error
	cancel    context.CancelFunc
	pushbacks atomic.Uint64
	direct    func([]byte) tessera.IndexFuture // on cluster storage, instead of group
	closed    atomic.Bool

	closeOnce sync.Once
	closeErr  error
}

// Open opens (or creates) the log in cfg.Dir, or on cfg.Cluster.
func Open(ctx context.Context, cfg LogConfig) (*Log, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// The appender's background work (integration, checkpoints) lives until
	// Close, not until the caller's ctx ends.
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	driver, pushback, err := openDriver(bg, cfg)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("journal: %w", err)
	}
	if cfg.Pushback > 0 {
		pushback = cfg.Pushback
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(cfg.Signer).
		WithCheckpointInterval(cfg.CheckpointInterval).
		WithBatching(cfg.BatchMaxSize, cfg.BatchMaxAge).
		WithPushback(pushback)
	var poll *statsPoll
	if cfg.Cluster != nil {
		lc, ok := driver.(interface {
			Appender(context.Context, *tessera.AppendOptions) (*tessera.Appender, tessera.LogReader, error)
		})
		if !ok {
			cancel()
			return nil, fmt.Errorf("journal: driver %T has no appender", driver)
		}
		poll = &statsPoll{driver: lc, every: cfg.CheckpointInterval}
		driver = poll
	}
	a, shutdown, reader, err := tessera.NewAppender(bg, driver, opts)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("journal: %w", err)
	}
	if poll != nil {
		reader = poll.inner // undamped, for the journal's own reads
	}
	l := &Log{cfg: cfg, appender: a, reader: reader, shutdown: shutdown, cancel: cancel}
	add := func(data []byte) tessera.IndexFuture { return a.Add(bg, tessera.NewEntry(data)) }
	if cfg.Cluster == nil {
		l.group = newGroupCommit(add, int(cfg.BatchMaxSize))
	} else {
		// Tessera's AWS driver batches what arrives within BatchMaxAge into
		// one database transaction: grouping here as well made an append
		// wait for the previous group's transaction, then for its own
		// (p99 77 ms against 35 ms with 16 writers).
		l.direct = add
	}
	return l, nil
}

// openDriver opens the tessera driver cfg names, and the pushback bound
// that suits it.
func openDriver(ctx context.Context, cfg LogConfig) (tessera.Driver, uint, error) {
	if cfg.Cluster == nil {
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return nil, 0, err
		}
		d, err := posix.New(ctx, posix.Config{Path: cfg.Dir})
		return d, 64 << 10, err
	}
	sdk, s3opts := cfg.Cluster.AWS()
	d, err := aws.New(ctx, aws.Config{
		SDKConfig: &sdk, S3Options: s3opts, Bucket: cfg.Cluster.Bucket, BucketPrefix: bucketPrefix,
		DSN: cfg.Cluster.DSN, MaxOpenConns: 16, MaxIdleConns: 8,
	})
	return d, ClusterPushback, err
}

// Origin is the log's checkpoint origin.
func (l *Log) Origin() string { return l.cfg.Origin }

// Dir is the directory holding the log's tiles and checkpoint; "" on
// cluster storage.
func (l *Log) Dir() string { return l.cfg.Dir }

// Reader reads the log's checkpoint, tiles and entry bundles.
func (l *Log) Reader() tessera.LogReader { return l.reader }

// Source reads the log as a Source, wherever it is stored: a partial tile
// or bundle that tessera has collected is cut from the full one.
func (l *Log) Source() Source {
	if l.cfg.Cluster == nil {
		return DirSource(l.cfg.Dir)
	}
	return widened{l.reader}
}

// Pushbacks counts the appends that the log pushed back (too many entries
// waiting for integration) and that were retried.
func (l *Log) Pushbacks() uint64 { return l.pushbacks.Load() }

// Append adds an event and returns its index once it is durable. On disk
// that is sequenced, integrated into the tree and synced (tessera's POSIX
// driver writes and fsyncs a batch before it resolves the batch's futures);
// the checkpoint that commits to it follows within the checkpoint interval.
// On cluster storage it is durably sequenced: committed in the database
// with its index. Integration into the tree runs every second, so the
// checkpoint follows within one to two seconds. An append that the log
// pushes back is retried until ctx ends: pushback slows the caller, it
// never drops an entry (a pushed-back entry was not sequenced).
func (l *Log) Append(ctx context.Context, e *Event) (uint64, error) {
	data, err := e.Encode()
	if err != nil {
		return 0, err
	}
	return l.AppendRaw(ctx, data)
}

// AppendRaw adds an already encoded entry; see Append.
func (l *Log) AppendRaw(ctx context.Context, data []byte) (uint64, error) {
	wait := 10 * time.Millisecond
	for {
		idx, err := l.add(ctx, data)
		if err == nil {
			return idx, nil
		}
		if !errors.Is(err, tessera.ErrPushback) {
			return 0, fmt.Errorf("journal append: %w", err)
		}
		l.pushbacks.Add(1)
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("journal append: pushed back until %w", ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// add appends data through the group commit, or straight to tessera.
func (l *Log) add(ctx context.Context, data []byte) (uint64, error) {
	if l.group != nil {
		return l.group.append(ctx, data)
	}
	if l.closed.Load() {
		return 0, ErrClosed
	}
	type result struct {
		idx uint64
		err error
	}
	done := make(chan result, 1)
	f := l.direct(data)
	go func() {
		idx, err := f()
		done <- result{idx.Index, err}
	}()
	select {
	case r := <-done:
		return r.idx, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// CheckpointInterval is how often the log signs a new checkpoint while
// there are new entries: polling the checkpoint more often reads the same
// note again (on cluster storage, an S3 request each time).
func (l *Log) CheckpointInterval() time.Duration { return l.cfg.CheckpointInterval }

// Checkpoint returns the latest signed checkpoint note, or os.ErrNotExist
// before the first one.
func (l *Log) Checkpoint(ctx context.Context) ([]byte, error) {
	return l.reader.ReadCheckpoint(ctx)
}

// Close stops the appender, waiting for pending appends; it may be called
// more than once.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l.closed.Store(true)
		if l.group != nil {
			l.group.close()
		}
		l.closeErr = l.shutdown(ctx)
		l.cancel()
	})
	return l.closeErr
}

// CheckpointPath is where the log's latest checkpoint is, in dir.
func CheckpointPath(dir string) string { return filepath.Join(dir, "checkpoint") }
