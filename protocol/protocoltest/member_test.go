package protocoltest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/protocoltest"
)

var payload = []byte(`{"a":1}`)

func TestSeededMembersAreReproducible(t *testing.T) {
	for _, alg := range []string{jws.AlgES256, jws.AlgEdDSA} {
		a, err := protocoltest.NewMemberFromSeed("KZ", alg, []byte("seed"))
		require.NoError(t, err)
		b, err := protocoltest.NewMemberFromSeed("KZ", alg, []byte("seed"))
		require.NoError(t, err)
		c, err := protocoltest.NewMemberFromSeed("KZ", alg, []byte("other seed"))
		require.NoError(t, err)
		assert.Equal(t, a.Kid(), b.Kid())
		assert.NotEqual(t, a.Kid(), c.Kid())
		for _, v := range protocoltest.VectorsFor(alg) {
			if v.Kind == protocoltest.Oversize {
				continue
			}
			assert.Equal(t, a.Mint(v.Kind, protocol.TypEvent, payload), b.Mint(v.Kind, protocol.TypEvent, payload), v.Name)
		}
	}
}

func TestMemberKeys(t *testing.T) {
	es := protocoltest.MustNewMember("TJ", jws.AlgES256)
	ed := protocoltest.MustNewMember("TR", jws.AlgEdDSA)
	assert.Equal(t, "TJ", es.Key().Member)
	assert.Equal(t, jws.AlgES256, es.Key().Alg)
	assert.Equal(t, es.Signer.Public(), es.Key())
	assert.Equal(t, es.Signer.Kid(), es.Kid())

	set := es.KeySet(ed)
	assert.Len(t, set.Keys(), 2, "a KeySet holds the registered signing keys only")
	view := es.TrustView(ed)
	assert.Len(t, view, 6, "a TrustView adds each member's enc-use and mismatched-alg keys")
	for _, m := range []*protocoltest.Member{es, ed} {
		k, ok := set.LookupKey(m.Kid())
		require.True(t, ok)
		assert.Equal(t, m.Key(), k)
		k, ok = view.LookupKey(m.Kid())
		require.True(t, ok)
		assert.Equal(t, m.Key(), k)
	}

	_, err := protocoltest.NewMember("tj", jws.AlgES256)
	assert.Error(t, err)
	_, err = protocoltest.NewMember("TJ", "HS256")
	assert.Error(t, err)
	assert.Panics(t, func() { protocoltest.MustNewMember("TJ", "HS256") })
}

func TestMintPanicsOnMisuse(t *testing.T) {
	ed := protocoltest.MustNewMember("TR", jws.AlgEdDSA)
	assert.Panics(t, func() { ed.Mint(protocoltest.DERSignature, protocol.TypEvent, payload) })
	assert.Panics(t, func() { ed.Mint(protocoltest.MalleatedSignature, protocol.TypEvent, payload) })
	assert.Panics(t, func() { ed.Mint(protocoltest.Kind(-1), protocol.TypEvent, payload) })
	assert.Panics(t, func() { ed.Sign(protocol.TypEvent, nil) })
}

func TestVectorsFor(t *testing.T) {
	for _, alg := range []string{jws.AlgES256, jws.AlgEdDSA} {
		for _, v := range protocoltest.VectorsFor(alg) {
			assert.Contains(t, []string{"", alg}, v.Alg)
		}
	}
	assert.Equal(t, "fail/alg-none", protocoltest.NameOf(protocoltest.AlgNone))
	assert.Equal(t, "", protocoltest.NameOf(protocoltest.Kind(-1)))
}
