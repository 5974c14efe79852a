package roster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap"

	"github.com/caravan-consortium/caravan/consortium"
	"github.com/caravan-consortium/caravan/p2p"
)

// The exchange carries roster changes between the members' gateways, so
// that nobody copies a file by hand (schemas/roster.md, "Travel"):
//
//   - a proposal or a signature handed to one gateway is gossiped on the
//     roster topic, and every gateway merges it into what it holds, and
//     adopts the version as soon as the update rule holds;
//   - a gateway asks each member it connects to (and every AntiEntropy)
//     for the versions after its own and the proposals held, over
//     Protocol, and walks the chain: one offline while versions were
//     adopted catches up, and one that missed a signature gets it.

// Protocol is the roster exchange: the asker sends one frame,
// {"in_force": V}; the peer answers with one frame per roster (YAML, as
// the file): the versions it has kept after V up to its own in force,
// oldest first, at most MaxChain, and an empty frame; then the proposals
// it holds, at most MaxProposals, and an empty frame; then the node
// delegations in force, one per org, and an empty frame. Frames are an
// unsigned varint length, then the bytes.
const Protocol = "/caravan/roster/1.0.0"

// Topic is the consortium's roster gossip topic.
func Topic(consortium string) string { return "/caravan/" + consortium + "/roster/1" }

// Bounds of the exchange.
const (
	MaxChain       = 64      // versions in one answer; the next exchange asks for the rest
	maxRosterFrame = 1 << 20 // a roster of some thousand members
	maxDelegations = 4096    // delegations in one answer: one per member
	// maxAnswer bounds the bytes of one answer, all its parts together: a
	// member cannot make an asker hold its MaxChain+MaxProposals+
	// maxDelegations frames of maxRosterFrame each.
	maxAnswer       = 16 << 20
	exchangeTimeout = 20 * time.Second
	// AntiEntropy is how often a gateway asks its connected members.
	AntiEntropy = 30 * time.Second
)

// ExchangeConfig configures NewExchange.
type ExchangeConfig struct {
	Host   host.Host
	PubSub *pubsub.PubSub
	Keeper *Keeper
	Log    *zap.Logger
}

// Exchange is a gateway's side of the roster exchange.
type Exchange struct {
	cfg    ExchangeConfig
	rs     *Keeper
	log    *zap.Logger
	topic  *pubsub.Topic
	sub    *pubsub.Subscription
	evSub  event.Subscription
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	asking sync.Map // peer.ID -> struct{}: one exchange per peer at once
}

type askMsg struct {
	InForce uint64 `json:"in_force"`
}

// NewExchange joins the roster topic and serves Protocol. Close stops it.
func NewExchange(cfg ExchangeConfig) (*Exchange, error) {
	ctx, cancel := context.WithCancel(context.Background())
	x := &Exchange{cfg: cfg, rs: cfg.Keeper, log: cfg.Log, ctx: ctx, cancel: cancel}
	name := Topic(cfg.Keeper.Roster().Consortium)
	var err error
	if err = cfg.PubSub.RegisterTopicValidator(name, x.validate); err == nil {
		if x.topic, err = cfg.PubSub.Join(name); err == nil {
			if x.sub, err = x.topic.Subscribe(pubsub.WithBufferSize(p2p.SubscribeBuffer)); err == nil {
				x.evSub, err = cfg.Host.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged))
			}
		}
	}
	if err != nil {
		x.Close()
		return nil, err
	}
	cfg.Host.SetStreamHandler(Protocol, x.serve)
	x.wg.Add(2)
	go x.receive()
	go x.watch()
	for _, p := range x.rs.Nodes() { // connected before the exchange started
		if cfg.Host.Network().Connectedness(p) == network.Connected {
			x.ask(p)
		}
	}
	return x, nil
}

// Close stops the exchange. It may be called more than once.
func (x *Exchange) Close() error {
	x.once.Do(func() {
		x.cfg.Host.RemoveStreamHandler(Protocol)
		x.cancel()
		if x.sub != nil {
			x.sub.Cancel()
		}
		if x.evSub != nil {
			x.evSub.Close()
		}
		x.wg.Wait()
		if x.topic != nil {
			x.topic.Close()
		}
		_ = x.cfg.PubSub.UnregisterTopicValidator(Topic(x.rs.Roster().Consortium))
	})
	return nil
}

// Announce gossips a proposal, with the signatures handed to this gateway,
// to every member. A member that misses it asks for it (AntiEntropy).
func (x *Exchange) Announce(p *consortium.Roster) {
	data, err := p.Marshal()
	if err == nil {
		err = x.topic.Publish(x.ctx, data)
	}
	if err != nil {
		x.log.Warn("roster proposal not gossiped; members will ask for it", zap.Uint64("version", p.Version), zap.Error(err))
	}
}

// validate accepts a roster of this consortium that is well formed and
// newer than the one in force, and carries the signature of an admin in
// force: a member that is no admin can gossip no proposal of its own, and
// so cannot fill the proposals a gateway holds. A version already in force
// or older is ignored, not held against the sender (it may lag).
func (x *Exchange) validate(_ context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	if from == x.cfg.Host.ID() {
		return pubsub.ValidationAccept
	}
	if d, err := consortium.ParseDelegation("gossip", m.GetData()); err == nil {
		return x.validateDelegation(from, m, d)
	}
	p, err := consortium.Parse("gossip", m.GetData())
	if err == nil {
		err = p.Validate()
	}
	current := x.rs.Roster()
	switch {
	case err != nil || p.Consortium != current.Consortium:
		x.log.Warn("roster gossip refused", zap.Stringer("from", from), zap.Error(err))
		return pubsub.ValidationReject
	case p.Version <= current.Version:
		return pubsub.ValidationIgnore
	case !sponsored(p, current):
		x.log.Warn("roster gossip refused: no admin in force signed it, or a signature fails", zap.Stringer("from", from), zap.Uint64("version", p.Version))
		return pubsub.ValidationReject
	}
	m.ValidatorData = p
	return pubsub.ValidationAccept
}

// validateDelegation accepts an org's delegation that the roster in force
// allows and that is newer than the org's in force; an older one is
// ignored.
func (x *Exchange) validateDelegation(from peer.ID, m *pubsub.Message, d *consortium.Delegation) pubsub.ValidationResult {
	held := x.rs.Delegations()
	if h := held[d.Org]; h != nil && d.Sequence <= h.Sequence {
		return pubsub.ValidationIgnore
	}
	others := cloneMap(held)
	delete(others, d.Org)
	if err := x.rs.Roster().CheckDelegation(d, others); err != nil {
		x.log.Warn("node delegation gossip refused", zap.Stringer("from", from), zap.Error(err))
		return pubsub.ValidationReject
	}
	m.ValidatorData = d
	return pubsub.ValidationAccept
}

// AnnounceDelegation gossips an org's delegation to every member.
func (x *Exchange) AnnounceDelegation(d *consortium.Delegation) {
	data, err := d.Marshal()
	if err == nil {
		err = x.topic.Publish(x.ctx, data)
	}
	if err != nil {
		x.log.Warn("node delegation not gossiped; members will ask for it", zap.String("of", d.Org), zap.Error(err))
	}
}

// sponsored says whether an admin of current has signed p.
func sponsored(p, current *consortium.Roster) bool {
	signers, err := p.VerifyBy(current.Admins)
	var below *consortium.ThresholdError
	return len(signers) > 0 && (err == nil || errors.As(err, &below))
}

func (x *Exchange) receive() {
	defer x.wg.Done()
	for {
		m, err := x.sub.Next(x.ctx)
		if err != nil {
			return
		}
		if m.ReceivedFrom == x.cfg.Host.ID() {
			continue
		}
		switch v := m.ValidatorData.(type) {
		case *consortium.Roster:
			x.take(v, m.ReceivedFrom)
		case *consortium.Delegation:
			x.delegate(v, m.ReceivedFrom)
		}
	}
}

// delegate hands an org's delegation from a member to the keeper.
func (x *Exchange) delegate(d *consortium.Delegation, from peer.ID) {
	if _, err := x.rs.Delegate(d); err != nil {
		x.log.Debug("node delegation from a member not taken", zap.Stringer("from", from), zap.String("of", d.Org), zap.Error(err))
	}
}

// take hands a proposal from a member to the keeper.
func (x *Exchange) take(p *consortium.Roster, from peer.ID) {
	got, err := x.rs.Submit(p)
	if err != nil {
		x.log.Warn("roster proposal from a member refused", zap.Stringer("from", from), zap.Uint64("version", p.Version), zap.Error(err))
		return
	}
	x.log.Debug("roster proposal from a member", zap.Stringer("from", from), zap.Uint64("version", got.Version), zap.String("state", got.State))
}

// watch asks each member as it connects, and every member connected every
// AntiEntropy.
func (x *Exchange) watch() {
	defer x.wg.Done()
	t := time.NewTicker(AntiEntropy)
	defer t.Stop()
	for {
		select {
		case <-x.ctx.Done():
			return
		case e, ok := <-x.evSub.Out():
			if !ok {
				return
			}
			if ev := e.(event.EvtPeerConnectednessChanged); ev.Connectedness == network.Connected {
				x.ask(ev.Peer)
			}
		case <-t.C:
			for _, p := range x.rs.Nodes() {
				if x.cfg.Host.Network().Connectedness(p) == network.Connected {
					x.ask(p)
				}
			}
		}
	}
}

// ask exchanges with member p in the background, once at a time.
func (x *Exchange) ask(p peer.ID) {
	if _, ok := x.rs.OrgOf(p); !ok {
		return
	}
	if _, busy := x.asking.LoadOrStore(p, struct{}{}); busy {
		return
	}
	x.wg.Add(1)
	go func() {
		defer x.wg.Done()
		defer x.asking.Delete(p)
		if err := x.Ask(x.ctx, p); err != nil && x.ctx.Err() == nil {
			x.log.Debug("roster exchange failed", zap.Stringer("peer", p), zap.Error(err))
		}
	}()
}

// Ask asks member p for the versions after the one in force and the
// proposals it holds, walks the chain and takes the proposals; again while
// a full answer of versions moved it on.
func (x *Exchange) Ask(ctx context.Context, p peer.ID) error {
	for {
		full, err := x.askOnce(ctx, p)
		if err != nil || !full {
			return err
		}
	}
}

// askOnce is one exchange; full says that it walked MaxChain versions, and
// more may follow.
func (x *Exchange) askOnce(ctx context.Context, p peer.ID) (full bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, exchangeTimeout)
	defer cancel()
	str, err := x.cfg.Host.NewStream(ctx, p, Protocol)
	if err != nil {
		return false, err
	}
	defer str.Close()
	deadline, _ := ctx.Deadline()
	_ = str.SetDeadline(deadline)
	msg, _ := json.Marshal(askMsg{InForce: x.rs.Roster().Version})
	if err := p2p.WriteFrame(str, msg); err != nil {
		str.Reset()
		return false, err
	}
	r := &answer{r: bufio.NewReader(str), left: maxAnswer, peer: p}
	chain, err := readRosters(r, MaxChain)
	var pending []*consortium.Roster
	var delegations [][]byte
	if err == nil {
		pending, err = readRosters(r, MaxProposals)
	}
	if err == nil {
		delegations, err = r.frames(maxDelegations)
	}
	if err != nil {
		str.Reset()
		return false, err
	}
	walked, err := x.rs.Walk(chain)
	if err != nil {
		x.log.Warn("roster chain from a member refused", zap.Stringer("peer", p), zap.Error(err))
	}
	current := x.rs.Roster()
	for _, q := range pending {
		if q.Version > current.Version && q.Validate() == nil && sponsored(q, current) {
			x.take(q, p)
		}
	}
	for _, data := range delegations {
		if d, err := consortium.ParseDelegation("peer "+p.String(), data); err == nil {
			x.delegate(d, p)
		}
	}
	return len(chain) == MaxChain && walked > 0, nil
}

// answer reads a member's answer, within maxAnswer bytes in all.
type answer struct {
	r    *bufio.Reader
	left int
	peer peer.ID
}

// readRosters reads roster frames up to an empty one, at most limit.
func readRosters(a *answer, limit int) ([]*consortium.Roster, error) {
	frames, err := a.frames(limit)
	if err != nil {
		return nil, err
	}
	var out []*consortium.Roster
	for _, data := range frames {
		q, err := consortium.Parse("peer "+a.peer.String(), data)
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, nil
}

// frames reads frames up to an empty one, at most limit.
func (a *answer) frames(limit int) ([][]byte, error) {
	var out [][]byte
	for {
		data, err := p2p.ReadFrame(a.r, min(maxRosterFrame, a.left))
		switch {
		case err != nil:
			return nil, fmt.Errorf("peer %s: %w (an answer is at most %d bytes)", a.peer, err, maxAnswer)
		case len(data) == 0:
			return out, nil
		case len(out) == limit:
			return nil, fmt.Errorf("peer %s sent more than %d documents in one part", a.peer, limit)
		}
		a.left -= len(data)
		out = append(out, data)
	}
}

// serve answers a member's ask.
func (x *Exchange) serve(str network.Stream) {
	defer str.Close()
	if _, ok := x.rs.OrgOf(str.Conn().RemotePeer()); !ok {
		str.Reset()
		return
	}
	_ = str.SetDeadline(time.Now().Add(exchangeTimeout))
	data, err := p2p.ReadFrame(bufio.NewReader(str), 256)
	var ask askMsg
	if err == nil {
		err = json.Unmarshal(data, &ask)
	}
	if err != nil {
		str.Reset()
		return
	}
	w := bufio.NewWriter(str)
	err = writeRosters(w, x.rs.Chain(ask.InForce, MaxChain))
	if err == nil {
		err = writeRosters(w, x.rs.Pending())
	}
	for _, d := range x.rs.AllDelegations() {
		if err == nil {
			var data []byte
			if data, err = d.Marshal(); err == nil {
				err = p2p.WriteFrame(w, data)
			}
		}
	}
	if err == nil {
		err = p2p.WriteFrame(w, nil)
	}
	if err != nil || w.Flush() != nil {
		str.Reset()
	}
}

// writeRosters writes one frame per roster, then an empty frame.
func writeRosters(w *bufio.Writer, rs []*consortium.Roster) error {
	for _, r := range rs {
		data, err := r.Marshal()
		if err == nil {
			err = p2p.WriteFrame(w, data)
		}
		if err != nil {
			return err
		}
	}
	return p2p.WriteFrame(w, nil)
}
