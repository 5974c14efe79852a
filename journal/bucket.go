package journal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/transparency-dev/tessera/api/layout"

	"github.com/caravan-consortium/caravan/internal/clusterconn"
)

// ClusterSource reads an org's log in its cluster's bucket, where tessera's
// AWS driver writes it (under journal/, in the tlog-tiles layout), with no
// database: what offline tools and evidence files need, on any machine
// that can reach the bucket.
func ClusterSource(conn clusterconn.Conn) Source {
	return widened{bucketSource{client: conn.S3(), bucket: conn.Bucket, prefix: bucketPrefix}}
}

type bucketSource struct {
	client *s3.Client
	bucket string
	prefix string
}

func (b bucketSource) ReadCheckpoint(ctx context.Context) ([]byte, error) {
	return b.get(ctx, layout.CheckpointPath)
}

func (b bucketSource) ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	return b.get(ctx, layout.TilePath(level, index, p))
}

func (b bucketSource) ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error) {
	return b.get(ctx, layout.EntriesPath(index, p))
}

func (b bucketSource) get(ctx context.Context, name string) ([]byte, error) {
	key := path.Join(b.prefix, name)
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: &key})
	if err != nil {
		var nsk *types.NoSuchKey
		if errors.As(err, &nsk) {
			return nil, fmt.Errorf("%s: %w", key, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}
