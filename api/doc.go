// Package api is a Caravan gateway's HTTP API: the routes and their wire
// types (routes.go), a server written against a small Gateway interface
// that package node implements, and the Client that the CLI and devnet use.
// It is served on the Unix socket DIR/control.sock, whose file mode (0600)
// is the access control.
//
// The API is versioned under /v1. Answers are JSON; errors are
// {"error": "..."} with an HTTP status. Publishing and fetching answer with
// a stream of NDJSON events (progress, then a result or an error), so that
// a client can show progress and a long operation needs no polling.
//
// The package imports no libp2p, no store and no gateway internals: its
// client is cheap to embed in an agency's own Go programs.
package api
