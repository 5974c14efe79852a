package catalog

import pb "github.com/libp2p/go-libp2p-pubsub/pb"

// MessageIDForTest exposes messageID to the black-box tests.
func MessageIDForTest(data []byte) string { return messageID(&pb.Message{Data: data}) }
