// Package p2p builds the libp2p host of a Caravan gateway and keeps it
// connected to the other members of the consortium.
//
// A host speaks TCP and QUIC (v1), secured by Noise or TLS 1.3 and
// multiplexed by yamux. Its connection Gater admits only the PeerIDs it is
// given (the roster's nodes), checked after the security handshake in both
// directions, so a non-member cannot open a single stream. Every host runs
// libp2p's resource manager with the explicit Limits of the gateway's
// configuration.
//
// An optional pre-shared key (PSK, the /key/swarm/psk/1.0.0/ format of
// go-libp2p's pnet) encrypts every connection with a consortium-wide secret
// as well. libp2p private networks work over TCP only: QUIC does not support
// them, so a host with a PSK listens and dials on TCP alone.
//
// A Keeper dials every member from the roster's addresses, redials with
// exponential backoff and jitter when a connection is lost, and can be given
// a new member set when the roster changes.
package p2p
