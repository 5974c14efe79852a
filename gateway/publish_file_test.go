package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/gateway"

	"github.com/caravan-consortium/caravan/internal/testnet"
	"github.com/caravan-consortium/caravan/schemas/sample"
)

// A gateway reads a file a client names, with the same result as when the
// client streams it, and says progress in bytes; a path it cannot use is
// ErrUnreadableHere, so the client can stream instead.
func TestPublishFileReadByTheGateway(t *testing.T) {
	c := testnet.NewCluster(t, 1)
	n := c.Start(0)
	cl, err := api.NewClient(c.Dir(0))
	if err != nil {
		t.Fatal(err)
	}
	testnet.RegisterDemoSchemas(t, []*gateway.Gateway{n}, cl)
	path := filepath.Join(t.TempDir(), "declarations.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := sample.Write(f, "customs-declaration", 20000, 3, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	st, _ := os.Stat(path)
	ctx := context.Background()
	o := api.PublishRequest{Dataset: "local", Schema: "customs-declaration", DryRun: true}

	var lastBytes int64
	byPath, err := cl.PublishFile(ctx, o, path, func(ev api.PublishEvent) {
		if ev.Progress > 0 && (ev.Bytes <= lastBytes || ev.Bytes > st.Size()) {
			t.Errorf("progress %d records at byte %d (before: %d, size %d)", ev.Progress, ev.Bytes, lastBytes, st.Size())
		}
		lastBytes = max(lastBytes, ev.Bytes)
	})
	if err != nil {
		t.Fatal(err)
	}
	if lastBytes == 0 {
		t.Error("no progress in bytes")
	}
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	streamed, err := cl.Publish(ctx, o, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if byPath.Manifest.Records != 20000 || !bytes.Equal(byPath.Manifest.Tree.Root, streamed.Manifest.Tree.Root) || byPath.Manifest.Tree.Size != streamed.Manifest.Tree.Size {
		t.Fatalf("by path %d records, tree %x; streamed tree %x", byPath.Manifest.Records, byPath.Manifest.Tree.Root, streamed.Manifest.Tree.Root)
	}

	for _, bad := range []string{filepath.Join(t.TempDir(), "missing.jsonl"), t.TempDir()} {
		if _, err := cl.PublishFile(ctx, o, bad, nil); !errors.Is(err, api.ErrUnreadableHere) {
			t.Errorf("%s: %v, want ErrUnreadableHere", bad, err)
		}
	}
}
