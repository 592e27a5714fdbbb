package protocoltest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ecrn/crvsx/protocol"
)

//go:embed testdata/birth.json
var birthTemplate []byte

// testNodeIDs are the node ids the project's tests use for members.
var testNodeIDs = map[string]string{
	"TJ": "TJ-MOJ-CRVS",
	"TR": "TR-NVI-CRVS",
	"KZ": "KZ-MOJ-CRVS",
	"KG": "KG-GRS-CRVS",
	"UZ": "UZ-MOJ-CRVS",
}

// NodeID returns the conventional test node id of a member: TJ-MOJ-CRVS,
// TR-NVI-CRVS, KZ-MOJ-CRVS, KG-GRS-CRVS, UZ-MOJ-CRVS, and "<country>-CRVS"
// for any other country code.
func NodeID(country string) string {
	if id, ok := testNodeIDs[country]; ok {
		return id
	}
	return country + "-CRVS"
}

// BirthMessage returns a realistic event.live-birth message (schema bundle
// 1.0.0), about 4.9 KB of compact JSON: a Tajik child born in İstanbul to
// Tajik parents living in Türkiye, registered by Türkiye, names in Cyrillic
// and Latin, parents with identifiers and documents, an informant. The
// realistic pair is sender "TR-…" (the registering country) and recipient
// "TJ-…" (the country of citizenship). messageId is a fresh UUID and
// createdAt the current time.
//
// sender and recipient are node ids ("TR-NVI-CRVS") or member country
// codes ("TR"), which stand for NodeID(country); sender.country and
// recipient.country are the node ids' prefixes. It panics on anything else
// (an international node has no country to put in the envelope).
func BirthMessage(sender, recipient string) []byte {
	return BirthMessageAt(sender, recipient, NewUUID(), time.Now())
}

// BirthMessageAt is BirthMessage with a given messageId and createdAt, for
// reproducible tests.
func BirthMessageAt(sender, recipient, messageID string, createdAt time.Time) []byte {
	senderNodeID, recipientNodeID := sender, recipient
	for _, id := range []*string{&senderNodeID, &recipientNodeID} {
		if len(*id) == 2 {
			*id = NodeID(*id)
		}
		if !protocol.IsMemberNodeID(*id) || len(*id) > 64 {
			panic(fmt.Sprintf("protocoltest: %q is neither a member node id like TJ-MOJ-CRVS nor a country code", *id))
		}
	}
	r := strings.NewReplacer(
		"{{messageId}}", messageID,
		"{{createdAt}}", createdAt.UTC().Format(time.RFC3339),
		"{{senderNodeId}}", senderNodeID,
		"{{senderCountry}}", senderNodeID[:2],
		"{{recipientNodeId}}", recipientNodeID,
		"{{recipientCountry}}", recipientNodeID[:2],
	)
	filled := r.Replace(string(birthTemplate))
	var out bytes.Buffer
	if err := json.Compact(&out, []byte(filled)); err != nil {
		panic("protocoltest: birth template: " + err.Error())
	}
	return out.Bytes()
}

// NewUUID returns a random (version 4) UUID in lower case, the form the
// schemas require.
func NewUUID() string { return protocol.NewUUID() }
