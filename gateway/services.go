package gateway

import (
	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/api/server"
	"github.com/caravan-consortium/caravan/sharing/fetch"
)

// buildServices makes the API's services over the gateway's parts, each
// with only the parts it uses.
func (n *Gateway) buildServices() server.Services {
	org := n.cfg.Org
	return server.Services{
		Admin: &adminService{org: org, self: n.self, started: n.started, host: n.host, gater: n.gater, roster: n.roster, exchange: n.exchange,
			policies: n.policies, witness: n.witness, catalog: n.catalog, registry: n.registry,
			api: func() api.APIStatus {
				if st := n.apiStatus.Load(); st != nil {
					return *st
				}
				return api.APIStatus{}
			}},
		Sharing:  &sharingService{members: n.roster, catalog: n.catalog, publisher: n.publisher, registry: n.registry, discovery: n.discovery, metrics: n.metrics},
		Registry: &registryService{org: org, registry: n.registry, registrar: n.registrar, publisher: n.publisher},
		Policies: &policyService{org: org, engine: n.policies, roster: n.roster, catalog: n.catalog, registry: n.registry},
		Fetching: &fetchService{requester: n.requester, catalog: n.catalog, store: n.backend.Store},
		Journal:  &journalService{org: org, dir: n.dir, log: n.journal.log, roster: n.roster, metrics: n.metrics},
	}
}

// newRequester makes the requester's side of the fetch protocol, with the
// gateway's parts as its ports.
func (n *Gateway) newRequester() *fetch.Requester {
	p := &fetchPorts{org: n.cfg.Org, host: n.host, catalog: n.catalog, gossip: n.gossip, registry: n.registry, roster: n.roster,
		journal: n.journal}
	return fetch.NewRequester(fetch.RequesterConfig{
		Client:     &fetch.Client{Host: n.host, Key: n.signer, Org: n.cfg.Org, Store: n.backend.Store, VerifyCheckpoint: p.verifyReceiptCheckpoint},
		ResumePath: n.dir.Resume, Receipts: n.dir.Receipts(), Evidence: n.dir.Evidence(),
		Resolve: p.resolve, Schema: p.schema, Journal: p.receipt, Observe: n.metrics.Fetched, Log: n.log.Named("fetch")})
}
