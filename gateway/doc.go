// Package node wires a Caravan gateway together and owns its lifecycle.
// Start brings the parts up in order:
//
//	data directory lock -> config -> node key -> trusted roster (an Index of
//	its nodes) -> libp2p host, gater and member keeper -> journal log ->
//	policies (journaled as they come into force) -> store and catalog ->
//	GossipSub, once, for the topics the services declare -> catalog gossip
//	and catch-up -> publisher (journal hook, then gossip) -> the journal's
//	network side (journal/witness) -> fetch server and requester -> the
//	services -> the API on the Unix socket (package api/server) -> file
//	watchers
//
// and Close takes them down in the reverse order, within ShutdownTimeout.
//
// Each flow has its home elsewhere (sharing/publish, sharing/catalog,
// sharing/fetch, journal/witness, policy); this package holds only what
// joins them: the adapters that give each its port to the others (the
// fetch server's Authorizer over the policies and the journal, the
// publisher's journal hook, the requester's ports, the roster in force as
// the services ask it), the API's services (services.go: one type a file,
// each holding only the parts it uses, returning errors of api's kinds),
// and offline access to a data directory's journal for the CLI. dirs.go
// names every path under the data directory.
package gateway
