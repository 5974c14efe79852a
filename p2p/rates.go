package p2p

import (
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/caravan-consortium/caravan/internal/ratelimit"
)

// PeerRates limits how many messages each peer may have handled, and
// optionally their bytes: a gossip validator asks Allow or AllowBytes for
// every message it sees from a peer (the one that forwarded it, or the
// node that signed it), and Spent to drop one before costly checks.
type PeerRates = ratelimit.Keyed[peer.ID]
