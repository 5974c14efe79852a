// Package p2p builds the libp2p host of a Caravan gateway and keeps it
// connected to the other members of the consortium.
//
// A host speaks TCP and QUIC (v1), secured by TLS 1.3 (or Noise, offered
// second over TCP) and multiplexed by yamux. TLS comes first, as in
// go-libp2p's defaults: it uses AES-GCM where the CPU has AES instructions
// (a raw stream copy over TCP on loopback ran 16% faster than with Noise's
// ChaCha20) and a hybrid post-quantum key exchange (X25519MLKEM768, Go's
// default), which Noise does not have.
//
// Its connection Gater admits only the PeerIDs it is given (the roster's
// nodes), checked after the security handshake in both directions, so a
// non-member cannot open a single stream. Every host runs libp2p's resource
// manager with the explicit Limits of the gateway's configuration.
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
