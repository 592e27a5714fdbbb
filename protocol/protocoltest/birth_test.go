package protocoltest_test

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/protocoltest"
)

func TestBirthMessage(t *testing.T) {
	msg := protocoltest.BirthMessage("TR-NVI-CRVS", "TJ-MOJ-CRVS")
	require.NoError(t, protocol.CheckJSON(msg, protocol.MaxJSONDepth))
	assert.InDelta(t, 4900, len(msg), 400, "a realistic size, about 4.9 KB")

	var env protocol.Envelope
	require.NoError(t, json.Unmarshal(msg, &env))
	assert.Equal(t, protocol.SchemaVersion, env.SchemaVersion)
	assert.Equal(t, protocol.MTLiveBirth, env.MessageType)
	assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`), env.MessageID)
	assert.WithinDuration(t, time.Now(), env.CreatedAt, time.Minute)
	assert.Equal(t, protocol.Endpoint{NodeID: "TR-NVI-CRVS", Country: "TR"}, env.Sender)
	assert.Equal(t, protocol.Endpoint{NodeID: "TJ-MOJ-CRVS", Country: "TJ"}, env.Recipient)
	assert.NotContains(t, string(msg), "{{", "every placeholder is filled")

	other := protocoltest.BirthMessage("TR-NVI-CRVS", "TJ-MOJ-CRVS")
	assert.NotEqual(t, msg, other, "a fresh messageId each time")

	var short protocol.Envelope
	require.NoError(t, json.Unmarshal(protocoltest.BirthMessage("TR", "KZ"), &short))
	assert.Equal(t, protocol.Endpoint{NodeID: "TR-NVI-CRVS", Country: "TR"}, short.Sender)
	assert.Equal(t, protocol.Endpoint{NodeID: "KZ-MOJ-CRVS", Country: "KZ"}, short.Recipient)
	assert.Equal(t, "AZ-CRVS", protocoltest.NodeID("AZ"))

	at := time.Date(2025, 3, 18, 9, 30, 0, 0, time.FixedZone("TRT", 3*3600))
	a := protocoltest.BirthMessageAt("TR-NVI-CRVS", "TJ-MOJ-CRVS", "3b0c6f52-2a4e-4d7b-9f1e-6c5d4b3a2f10", at)
	b := protocoltest.BirthMessageAt("TR-NVI-CRVS", "TJ-MOJ-CRVS", "3b0c6f52-2a4e-4d7b-9f1e-6c5d4b3a2f10", at)
	assert.Equal(t, a, b)
	assert.Contains(t, string(a), `"createdAt":"2025-03-18T06:30:00Z"`)

	assert.Panics(t, func() { protocoltest.BirthMessage("INT-UNHCR-TJ", "TJ-MOJ-CRVS") })
	assert.Panics(t, func() { protocoltest.BirthMessage("T", "TJ-MOJ-CRVS") })
	assert.Panics(t, func() { protocoltest.BirthMessage("tr", "TJ-MOJ-CRVS") })
	assert.Panics(t, func() { protocoltest.BirthMessage("TR-NVI-CRVS", `TJ"-X`) })
}
