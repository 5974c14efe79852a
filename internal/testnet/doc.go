// Package testnet is the in-process consortium that tests run against:
// real gateways (gateway.Start) on loopback, their data directories made by
// devnet, a fetch network with a published dataset, API clients over TLS,
// and a hostile member's bare host. It imports node and devnet, so only
// tests that need gateways import it; leaf fixtures (keys, manifests,
// schemas, records) are in internal/testkit, which stays light.
package testnet
