package fetch

import (
	"context"
	"io"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/caravan-consortium/caravan/sharing/manifest"
)

// WrapStreams makes c wrap each fetch stream with wrap: the black-box tests
// put a man in the middle there.
func WrapStreams(c *Client, wrap func(network.Stream) io.ReadWriter) { c.wrap = wrap }

// FetchSigned sends an already signed request: the tests replay and forge
// requests with it.
func FetchSigned(ctx context.Context, c *Client, p peer.ID, m *manifest.Manifest, o Options, request []byte) (*Result, error) {
	return c.fetchSigned(ctx, p, m, o, request)
}
