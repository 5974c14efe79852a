package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

// Defaults of LogConfig.
const (
	DefaultCheckpointInterval = 100 * time.Millisecond // tessera's minimum
	DefaultBatchMaxAge        = 1 * time.Millisecond
	DefaultBatchMaxSize       = 1024
)

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("journal is closed")

// LogConfig configures Open. Dir, Origin and Signer are required.
type LogConfig struct {
	// Dir holds the log in the C2SP tlog-tiles layout (checkpoint, tile/...),
	// ready to be served as is.
	Dir    string
	Origin string
	Signer note.Signer
	// CheckpointInterval is how often a new checkpoint is signed while there
	// are new entries. Default DefaultCheckpointInterval.
	CheckpointInterval time.Duration
	// BatchMaxSize and BatchMaxAge bound a batch of appends, which is
	// written and synced at once. Defaults above. Appends reach tessera in
	// groups (see groupCommit), so the window only has to cover handing
	// over one group.
	BatchMaxSize uint
	BatchMaxAge  time.Duration
}

func (c *LogConfig) validate() error {
	if c.Dir == "" || c.Origin == "" || c.Signer == nil {
		return errors.New("journal: Dir, Origin and Signer are required")
	}
	if c.Signer.Name() != c.Origin {
		return fmt.Errorf("journal: signer %q does not sign for origin %q", c.Signer.Name(), c.Origin)
	}
	if c.CheckpointInterval <= 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	if c.BatchMaxSize == 0 {
		c.BatchMaxSize = DefaultBatchMaxSize
	}
	if c.BatchMaxAge <= 0 {
		c.BatchMaxAge = DefaultBatchMaxAge
	}
	return nil
}

// Log is an org's own journal: an append-only tlog-tiles log on disk
// (tessera's POSIX driver) whose checkpoints the org signs.
type Log struct {
	cfg      LogConfig
	appender *tessera.Appender
	group    *groupCommit
	reader   tessera.LogReader
	shutdown func(context.Context) error
	cancel   context.CancelFunc

	closeOnce sync.Once
	closeErr  error
}

// Open opens (or creates) the log in cfg.Dir.
func Open(ctx context.Context, cfg LogConfig) (*Log, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	// The appender's background work (integration, checkpoints) lives until
	// Close, not until the caller's ctx ends.
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	driver, err := posix.New(bg, posix.Config{Path: cfg.Dir})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("journal: %w", err)
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(cfg.Signer).
		WithCheckpointInterval(cfg.CheckpointInterval).
		WithBatching(cfg.BatchMaxSize, cfg.BatchMaxAge).
		WithPushback(64 << 10)
	a, shutdown, reader, err := tessera.NewAppender(bg, driver, opts)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("journal: %w", err)
	}
	l := &Log{cfg: cfg, appender: a, reader: reader, shutdown: shutdown, cancel: cancel}
	l.group = newGroupCommit(func(data []byte) tessera.IndexFuture {
		return a.Add(bg, tessera.NewEntry(data))
	}, int(cfg.BatchMaxSize))
	return l, nil
}

// Origin is the log's checkpoint origin.
func (l *Log) Origin() string { return l.cfg.Origin }

// Dir is the directory holding the log's tiles and checkpoint.
func (l *Log) Dir() string { return l.cfg.Dir }

// Reader reads the log's checkpoint, tiles and entry bundles.
func (l *Log) Reader() tessera.LogReader { return l.reader }

// Append adds an event and returns its index once it is durable: sequenced,
// integrated into the tree and synced to disk (tessera's POSIX driver writes
// and fsyncs a batch before it resolves the batch's futures). The checkpoint
// that commits to it follows within the checkpoint interval.
func (l *Log) Append(ctx context.Context, e *Event) (uint64, error) {
	data, err := e.Encode()
	if err != nil {
		return 0, err
	}
	return l.AppendRaw(ctx, data)
}

// AppendRaw adds an already encoded entry; see Append.
func (l *Log) AppendRaw(ctx context.Context, data []byte) (uint64, error) {
	idx, err := l.group.append(ctx, data)
	if err != nil {
		return 0, fmt.Errorf("journal append: %w", err)
	}
	return idx, nil
}

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
		l.group.close()
		l.closeErr = l.shutdown(ctx)
		l.cancel()
	})
	return l.closeErr
}

// CheckpointPath is where the log's latest checkpoint is, in dir.
func CheckpointPath(dir string) string { return filepath.Join(dir, "checkpoint") }
