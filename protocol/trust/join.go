package trust

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"

	"github.com/ecrn/crvsx/protocol"
)

// Reasons of the peer and join checks (node/registry DESIGN.md §13). They are returned
// by View.CheckPeer and VerifyJoin, never hashed into the chain; the
// shell maps them to its API's problems.
const (
	ReasonNodeUnknown     Reason = "NODE_UNKNOWN"           // no registered node with that id (or removed)
	ReasonNodePinMismatch Reason = "NODE_PIN_MISMATCH"      // the TLS key is not the one pinned for the node
	ReasonNodeNotActive   Reason = "NODE_MEMBER_NOT_ACTIVE" // the node's member is suspended or withdrawn
	ReasonJoinSignature   Reason = "JOIN_SIGNATURE_INVALID" // the challenge signature does not verify
	ReasonJoinChallenge   Reason = "JOIN_CHALLENGE_INVALID" // challenge or exporter value of the wrong size
	joinTranscriptLabel          = "crvsx-join/1"
	JoinChallengeBytes           = 32
	JoinExporterBytes            = 32
	JoinExporterLabel            = "EXPORTER-crvsx-join" // RFC 8446 §7.5 label for tls.ConnectionState.ExportKeyingMaterial
	maxSPKIBytes                 = 1024
	maxJoinSignatureBytes        = 128
)

// CheckPeer is the mTLS transport's check of a peer (node/registry DESIGN.md §13): the
// node is registered, its member is active, and the SPKI of the key it
// presented has the registered pin.
func (v *View) CheckPeer(nodeID string, spkiDER []byte) error {
	n, ok := v.nodes[nodeID]
	if !ok {
		return Rejectf(ReasonNodeUnknown, "no registered node %q", nodeID)
	}
	if protocol.SPKIPin(spkiDER) != n.TLSSPKISHA256 {
		return Rejectf(ReasonNodePinMismatch, "the TLS key of %s is not the pinned one", nodeID)
	}
	if v.members[n.Member] != StatusActive {
		return Rejectf(ReasonNodeNotActive, "member %s of node %s is %s", n.Member, nodeID, v.members[n.Member])
	}
	return nil
}

// JoinTranscript returns what a joining node signs with its TLS private
// key (node/registry DESIGN.md §13): the label, the genesis hash, the node id, the
// leader's challenge and the TLS exporter value of the connection, each
// length-prefixed, so that the answer is bound to one network, one node,
// one challenge and one TLS session.
func JoinTranscript(genesisHash, nodeID string, challenge, exporter []byte) []byte {
	var b bytes.Buffer
	for _, part := range [][]byte{[]byte(joinTranscriptLabel), []byte(genesisHash), []byte(nodeID), challenge, exporter} {
		b.WriteByte(byte(len(part) >> 8))
		b.WriteByte(byte(len(part)))
		b.Write(part)
	}
	return b.Bytes()
}

// VerifyJoin checks a join request (node/registry DESIGN.md §13): CheckPeer, then the
// signature over JoinTranscript with the presented TLS key — ECDSA P-256
// (ASN.1, SHA-256) or Ed25519. It returns nil or a *RejectedError.
func (v *View) VerifyJoin(nodeID string, spkiDER, challenge, exporter, sig []byte) error {
	if len(challenge) != JoinChallengeBytes || len(exporter) != JoinExporterBytes {
		return Rejectf(ReasonJoinChallenge, "challenge and exporter value must be %d bytes each", JoinChallengeBytes)
	}
	if len(spkiDER) > maxSPKIBytes || len(sig) > maxJoinSignatureBytes {
		return Rejectf(ReasonJoinSignature, "key or signature too large")
	}
	if err := v.CheckPeer(nodeID, spkiDER); err != nil {
		return err
	}
	pub, err := x509.ParsePKIXPublicKey(spkiDER)
	if err != nil {
		return Rejectf(ReasonJoinSignature, "TLS key: %v", err)
	}
	msg := JoinTranscript(v.genesisHash, nodeID, challenge, exporter)
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		d := sha256.Sum256(msg)
		if k.Curve == elliptic.P256() && ecdsa.VerifyASN1(k, d[:], sig) {
			return nil
		}
	case ed25519.PublicKey:
		if ed25519.Verify(k, msg, sig) {
			return nil
		}
	}
	return Rejectf(ReasonJoinSignature, "the challenge signature of %s does not verify", nodeID)
}
