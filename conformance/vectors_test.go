package conformance

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/protocoltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExportedVectorsVerifyAsTheyExpect reads an export back as another
// implementation would — files only — and runs every vector through the
// strict verifier: the files say what the verifier does.
func TestExportedVectorsVerifyAsTheyExpect(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vectors")
	_, err := ExportVectors(dir, "AQ", "UZ")
	require.NoError(t, err)

	b, err := os.ReadFile(filepath.Join(dir, "vectors.json"))
	require.NoError(t, err)
	var exp Export
	require.NoError(t, json.Unmarshal(b, &exp))
	assert.Equal(t, ExportFormat, exp.Format)
	kb, err := os.ReadFile(filepath.Join(dir, exp.Keys))
	require.NoError(t, err)
	keys, err := jws.ParseJWKSet(kb)
	require.NoError(t, err)
	assert.Len(t, keys.Keys(), 2)

	want := 0
	for _, alg := range []string{jws.AlgES256, jws.AlgEdDSA} {
		for _, v := range protocoltest.VectorsFor(alg) {
			if v.Kind != protocoltest.KeyUseEnc {
				want++
			}
		}
	}
	require.Len(t, exp.Vectors, want, "one source: every vector of protocoltest's list that applies, for both algorithms")
	seen := map[string]bool{}
	for _, v := range exp.Vectors {
		t.Run(v.Alg+"/"+v.Name, func(t *testing.T) {
			require.False(t, seen[v.File], "file %s twice", v.File)
			seen[v.File] = true
			msg, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(v.File)))
			require.NoError(t, err)
			got, err := jws.Verify(msg, keys, jws.Options{Typ: exp.Typ})
			if v.Expect == "accepted" {
				require.NoError(t, err)
				assert.Equal(t, v.Kid, got.Kid)
				var msg struct {
					Sender    struct{ Country string } `json:"sender"`
					Recipient struct{ Country string } `json:"recipient"`
				}
				require.NoError(t, json.Unmarshal(got.Payload, &msg))
				assert.Equal(t, "AQ", msg.Sender.Country)
				assert.Equal(t, "UZ", msg.Recipient.Country)
				return
			}
			require.Error(t, err)
			assert.Equal(t, "rejected:"+string(protocol.CodeOf(err)), v.Expect, "error: %v", err)
		})
	}
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	require.NoError(t, err)
	assert.Contains(t, string(readme), "keys.jwks.json")
	assert.Equal(t, len(exp.Vectors), strings.Count(string(readme), "\n| ES256 |")+strings.Count(string(readme), "\n| EdDSA |"))

	_, err = ExportVectors(dir, "AQ", "UZ")
	require.ErrorIs(t, err, ErrExportDir, "an export never mixes with older files")
}
