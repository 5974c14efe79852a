// Package node wires a Caravan gateway together and owns its lifecycle:
// config -> data directory lock -> node key -> trusted roster -> libp2p host
// -> member keeper -> journal -> policies -> store, catalog and gossip ->
// journal networking -> fetch server -> control endpoint -> file watchers.
//
// A gateway's data directory holds:
//
//	caravan.yaml       the configuration (see Config)
//	node.key           the Ed25519 node key, PKCS#8 PEM, mode 0600
//	gateway.lock       held (flock) by the running gateway
//	control.sock       the control endpoint: HTTP over a Unix socket, mode 0600
//	policies/          the org's Cedar policies (config field "policies")
//	state/roster.yaml  the last roster this gateway accepted
//	state/policy-volume.json  records released per org and UTC day
//	store/             Pebble: statements, records, fetched records, nonces
//	journal/           log/ (tlog-tiles), mirrors/ORG/, witnessed/, alerts/
//	fetch/             resume state, receipts, tamper evidence
//
// The control endpoint serves status, roster and policy reloads, publish,
// catalog, retract, policy explain, fetch, Prometheus metrics (/metrics) and
// pprof. Only the owner of the data directory can reach it: the socket's
// file mode is the access control. Client is its Go client.
package node
