// Package datadir is a gateway's data directory: its layout, every path
// named once (dirs.go), the configuration (config.go, documented field by
// field in docs/configuration.md), init (a node key and a commented
// config), the lock that keeps one gateway to a directory, the API
// listener's certificate, and the offline reads of its journals that the
// CLI uses without a running gateway (offline.go).
package datadir
