package schemas_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/schemas"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIssuesAreCapped(t *testing.T) {
	b, err := os.ReadFile("testdata/bench/birth.json")
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	child := m["payload"].(map[string]any)["child"].(map[string]any)
	for i := range 300 {
		child[fmt.Sprintf("leak%03d", i)] = "x"
	}
	b, err = json.Marshal(m)
	require.NoError(t, err)
	_, err = schemas.Default().Validate(b)
	var pe *protocol.Error
	require.ErrorAs(t, err, &pe)
	require.Len(t, pe.Issues, schemas.MaxIssues)
	assert.Equal(t, schemas.CodeTruncated, pe.Issues[schemas.MaxIssues-1].Code)
	assert.Contains(t, pe.Issues[schemas.MaxIssues-1].Message, "201 more")
}

func TestIsNFC(t *testing.T) {
	assert.True(t, schemas.IsNFC([]byte(`{"name":"Şahin İlkay"}`)))
	assert.False(t, schemas.IsNFC([]byte("{\"name\":\"S\u0327ahin\"}")), "S + combining cedilla is not NFC")
	assert.False(t, schemas.IsNFC([]byte("{\"country\":\"\u212aZ\"}")), "the Kelvin sign is not NFC")
}
