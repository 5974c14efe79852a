package devnet

import (
	"context"
	"os/exec"

	"github.com/caravan-consortium/caravan/api"
)

// Publish publishes count generated records of schema as dataset at o.
func Publish(ctx context.Context, o *Org, dataset, schema string, count int, seed uint64, purposes []string) (*api.PublishSummary, error) {
	return publish(ctx, o, dataset, schema, count, seed, nil, purposes)
}

// Attackers are the hostile scenario's attacking processes.
type Attackers = attackers

var StartMember = startMember

func (a *attackers) Begin() error                       { return a.begin() }
func (a *attackers) Pause() error                       { return a.pause() }
func (a *attackers) Counted() (map[string]int64, error) { return a.counted() }
func (a *attackers) Stop() error                        { return a.stop() }
func (a *attackers) Final() map[string]int64            { return a.final }
func (a *attackers) Exited() bool {
	for _, c := range []*exec.Cmd{a.member, a.outsider} {
		if c != nil && c.ProcessState == nil {
			return false
		}
	}
	return true
}
