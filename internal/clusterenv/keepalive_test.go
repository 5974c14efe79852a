//go:build cluster

package clusterenv_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/httptrace"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/caravan-consortium/caravan/internal/clusterenv"
)

// TestClusterS3ConnectionsAreKeptAlive: the S3 client keeps its
// connections, and the server too (VersityGW closes each one unless run
// with --keep-alive): a dial per request cost a tenth of the cluster
// store's CPU.
func TestClusterS3ConnectionsAreKeptAlive(t *testing.T) {
	var fresh, reused int
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if i.Reused {
			reused++
		} else {
			fresh++
		}
	}})
	defer func() {
		if fresh > 2 {
			t.Errorf("%d requests dialed a new connection, %d reused one", fresh, reused)
		}
	}()
	sp := clusterenv.NewSpace(t)
	c := sp.Conn().S3()
	for i := range 50 {
		k := fmt.Sprint(i)
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &sp.Bucket, Key: &k, Body: bytes.NewReader(make([]byte, 300000))}); err != nil {
			t.Fatal(err)
		}
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &sp.Bucket, Key: &k})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, out.Body)
		out.Body.Close()
	}
}
