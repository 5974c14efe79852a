// Package node wires a Caravan gateway together and owns its lifecycle:
// config -> data directory lock -> node key -> trusted roster -> libp2p host
// -> member keeper -> control endpoint.
//
// A gateway's data directory holds:
//
//	caravan.yaml   the configuration (see Config)
//	node.key       the Ed25519 node key, PKCS#8 PEM, mode 0600
//	gateway.lock   held (flock) by the running gateway
//	control.sock   the control endpoint: HTTP over a Unix socket, mode 0600
//	state/roster.yaml  the last roster this gateway accepted
//
// The control endpoint serves GET /v1/status (a JSON Status) and
// POST /v1/roster/reload. Only the owner of the data directory can reach it:
// the socket's file mode is the access control. Client is its Go client.
package node
