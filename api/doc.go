// Package api is the contract of a Caravan gateway's HTTP API: its routes
// (routes.go), their wire types, the kinds of error a gateway answers with
// (errors.go), and the Client that the CLI, devnet and an agency's own Go
// programs use. The server is package api/server; the console, package
// api/console.
//
// The API is versioned under /v1 and served on the Unix socket
// DIR/control.sock, whose file mode (0600) is the access control, and on
// an optional TLS listener with bearer tokens. Answers are JSON; errors
// are RFC 9457 problem details with an HTTP status, which the client turns
// back into a *StatusError that errors.Is matches with ErrNotFound and the
// other kinds. Publishing and fetching answer with a stream of NDJSON
// events (progress, then a result or an error), so that a client can show
// progress and a long operation needs no polling.
//
// The package imports no libp2p, no Cedar, no tessera and no gateway
// internals (internal/rules checks it): it is cheap to embed.
package api
