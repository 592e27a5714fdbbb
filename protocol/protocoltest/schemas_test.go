package protocoltest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/protocoltest"
	"github.com/ecrn/crvsx/schemas"
	"github.com/ecrn/crvsx/schemas/semantic"
)

// TestBirthMessageIsValid: the sample payload passes the schema bundle and
// the semantic layer, so tests and benchmarks that use it measure the
// accepting path.
func TestBirthMessageIsValid(t *testing.T) {
	msg := protocoltest.BirthMessage("TR-NVI-CRVS", "TJ-MOJ-CRVS")
	res, err := schemas.Default().Validate(msg)
	require.NoError(t, err, "issues: %v", err)
	assert.Equal(t, protocol.MTLiveBirth, res.MessageType)
	assert.Equal(t, protocol.SchemaVersion, res.SchemaVersion)
	assert.Empty(t, res.Warnings)
	// Until schemas wires its semantic layer into Validate, run it here.
	assert.Empty(t, semantic.Check(res.Doc), "semantic issues")
}
