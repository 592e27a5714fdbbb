package protocoltest_test

import (
	"strings"
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

// TestVectorsFileIsTheOneList: vectors.json names every mutation Mint
// knows, each at least once, and the parser refuses what is not a vector
// file (the list other implementations read cannot drift from the Go one).
func TestVectorsFileIsTheOneList(t *testing.T) {
	used := map[protocoltest.Kind]bool{}
	for _, v := range protocoltest.Vectors() {
		used[v.Kind] = true
		if v.Cite == "" {
			t.Errorf("%s cites no requirement", v.Name)
		}
	}
	for k := protocoltest.Valid; k <= protocoltest.SignedByOtherKey; k++ {
		if strings.HasPrefix(k.String(), "kind(") {
			t.Errorf("kind %d has no mutation name", k)
		}
		if !used[k] {
			t.Errorf("mutation %s is in no vector", k)
		}
		if back, ok := protocoltest.KindOf(k.String()); !ok || back != k {
			t.Errorf("KindOf(%s) = %v %v", k, back, ok)
		}
	}
	for name, doc := range map[string]string{
		"unknown-mutation": `{"format":"crvsx-jws-vectors/1","about":"","vectors":[{"name":"x","mutation":"nope","expect":"accepted","cite":"c"}]}`,
		"bad-expect":       `{"format":"crvsx-jws-vectors/1","about":"","vectors":[{"name":"x","mutation":"valid","expect":"refused","cite":"c"}]}`,
		"duplicate-name":   `{"format":"crvsx-jws-vectors/1","about":"","vectors":[{"name":"x","mutation":"valid","expect":"accepted","cite":"c"},{"name":"x","mutation":"valid","expect":"accepted","cite":"c"}]}`,
		"other-format":     `{"format":"v2","about":"","vectors":[]}`,
		"unknown-member":   `{"format":"crvsx-jws-vectors/1","about":"","vectors":[],"x":1}`,
	} {
		if _, err := protocoltest.ParseVectors([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestMemberFromSigner: with a registered key as its main key, every
// vector but KeyUseEnc gives its code against a trust view that holds that
// key only (a real registry's).
func TestMemberFromSigner(t *testing.T) {
	s, err := jws.GenerateKey("AQ", jws.AlgES256)
	require.NoError(t, err)
	m, err := protocoltest.NewMemberFromSigner(s)
	require.NoError(t, err)
	view := protocoltest.TrustView{s.Kid(): s.Public()}
	for _, v := range protocoltest.VectorsFor(jws.AlgES256) {
		if v.Kind == protocoltest.KeyUseEnc {
			continue
		}
		_, err := jws.Verify(m.Mint(v.Kind, protocol.TypEvent, []byte(`{"a":1}`)), view, jws.Options{Typ: protocol.TypEvent})
		assert.Equal(t, v.Code, protocol.CodeOf(err), "%s: %v", v.Name, err)
	}
}
