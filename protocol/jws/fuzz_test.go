package jws_test

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	jwxjws "github.com/lestrrat-go/jwx/v3/jws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/protocoltest"
)

var update = flag.Bool("update", false, "rewrite the committed fuzz seed corpora from the vectors")

// fuzzMembers are seeded, so that the committed corpus verifies against
// the same keys on every run.
func fuzzMembers(t testing.TB) (es, ed *protocoltest.Member) {
	t.Helper()
	es, err := protocoltest.NewMemberFromSeed("TJ", jws.AlgES256, []byte("crvsx FuzzVerify TJ"))
	require.NoError(t, err)
	ed, err = protocoltest.NewMemberFromSeed("TR", jws.AlgEdDSA, []byte("crvsx FuzzVerify TR"))
	require.NoError(t, err)
	return es, ed
}

// corpusFile is the "go test fuzz v1" encoding of one []byte argument.
func corpusFile(b []byte) []byte {
	return []byte("go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n")
}

// verifyCorpus returns the seed files of FuzzVerify: every vector of both
// members but the oversize one (256 KB that the fuzzer cannot grow).
func verifyCorpus(t testing.TB) map[string][]byte {
	es, ed := fuzzMembers(t)
	files := map[string][]byte{}
	for _, m := range []*protocoltest.Member{es, ed} {
		for _, v := range protocoltest.VectorsFor(m.Alg) {
			if v.Kind == protocoltest.Oversize {
				continue
			}
			name := m.Alg + "-" + strings.ReplaceAll(v.Name, "/", "-")
			files[name] = corpusFile(m.Mint(v.Kind, protocol.TypEvent, samplePayload))
		}
	}
	return files
}

// jwkCorpus returns the seed files of FuzzParseJWK.
func jwkCorpus(t testing.TB) map[string][]byte {
	es, ed := fuzzMembers(t)
	files := map[string][]byte{}
	for _, m := range []*protocoltest.Member{es, ed} {
		pub, err := jws.MarshalPublicJWK(m.Key())
		require.NoError(t, err)
		priv, err := jws.MarshalPrivateJWK(m.Signer)
		require.NoError(t, err)
		files[m.Alg+"-public"] = corpusFile(pub)
		files[m.Alg+"-private"] = corpusFile(priv)
	}
	set, err := jws.MarshalJWKSet([]jws.Key{es.Key(), ed.Key()})
	require.NoError(t, err)
	files["set"] = corpusFile(set)
	files["set-empty"] = corpusFile([]byte(`{"keys":[]}`))
	files["rsa"] = corpusFile([]byte(`{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"TJ:AAAAAAAAAAAAAAAA","alg":"RS256","use":"sig","member":"TJ"}`))
	return files
}

// TestFuzzCorpusIsCurrent keeps the committed seed corpora equal to what
// the vectors mint (run with -update to rewrite them).
func TestFuzzCorpusIsCurrent(t *testing.T) {
	for target, files := range map[string]map[string][]byte{
		"FuzzVerify":   verifyCorpus(t),
		"FuzzParseJWK": jwkCorpus(t),
	} {
		dir := filepath.Join("testdata", "fuzz", target)
		if *update {
			require.NoError(t, os.RemoveAll(dir))
			require.NoError(t, os.MkdirAll(dir, 0o755))
			for name, b := range files {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
			}
		}
		entries, err := os.ReadDir(dir)
		require.NoError(t, err, "run go test -run TestFuzzCorpusIsCurrent -update ./protocol/jws/")
		assert.Len(t, entries, len(files), target)
		for name, want := range files {
			got, err := os.ReadFile(filepath.Join(dir, name))
			if assert.NoError(t, err, "%s/%s missing: run with -update", target, name) {
				assert.Equal(t, string(want), string(got), "%s/%s is stale: run with -update", target, name)
			}
		}
	}
}

// FuzzVerify: Verify never panics; every refusal of peer input has a code;
// an accepted token is exactly canonical, verifies again to the same
// result, and verifies with jwx under the key's registered alg.
func FuzzVerify(f *testing.F) {
	es, ed := fuzzMembers(f)
	view := es.TrustView(ed)
	opts := jws.Options{Typ: protocol.TypEvent}
	f.Fuzz(func(t *testing.T, token []byte) {
		got, err := jws.Verify(token, view, opts)
		if err != nil {
			if protocol.CodeOf(err) == "" && !strings.HasPrefix(err.Error(), "jws: trust view key") {
				t.Fatalf("refusal without a code: %v", err)
			}
			return
		}
		segs := bytes.Split(token, []byte("."))
		if len(segs) != 3 {
			t.Fatalf("accepted %d segments", len(segs))
		}
		var decoded [3][]byte
		for i, s := range segs {
			b, err := base64.RawURLEncoding.Strict().DecodeString(string(s))
			if err != nil || base64.RawURLEncoding.EncodeToString(b) != string(s) {
				t.Fatalf("accepted non-canonical segment %d %q", i, s)
			}
			decoded[i] = b
		}
		if !bytes.Equal(decoded[1], got.Payload) {
			t.Fatalf("payload %q, segment decodes to %q", got.Payload, decoded[1])
		}
		if got.Alg != got.Key.Alg || got.Kid != got.Key.Kid || got.Key.Use != "sig" {
			t.Fatalf("accepted with alg %q kid %q for key %+v", got.Alg, got.Kid, got.Key)
		}
		again, err := jws.Verify(token, view, opts)
		if err != nil || !reflect.DeepEqual(got, again) {
			t.Fatalf("second verification differs: %v", err)
		}
		alg := jwa.ES256()
		if got.Alg == jws.AlgEdDSA {
			alg = jwa.EdDSA()
		}
		payload, err := jwxjws.Verify(token, jwxjws.WithKey(alg, got.Key.Public))
		if err != nil || !bytes.Equal(payload, got.Payload) {
			t.Fatalf("jwx disagrees: %v", err)
		}
	})
}

type publicKey interface{ Equal(crypto.PublicKey) bool }

func sameKey(a, b jws.Key) bool {
	return a.Kid == b.Kid && a.Member == b.Member && a.Alg == b.Alg && a.Use == b.Use &&
		a.Public.(publicKey).Equal(b.Public)
}

// FuzzParseJWK: the JWK parsers never panic, and whatever they accept
// marshals and parses back to the same key.
func FuzzParseJWK(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if k, err := jws.ParsePublicJWK(data); err == nil {
			b, err := jws.MarshalPublicJWK(k)
			if err != nil {
				t.Fatalf("marshal accepted key: %v", err)
			}
			k2, err := jws.ParsePublicJWK(b)
			if err != nil || !sameKey(k, k2) {
				t.Fatalf("public round trip: %v", err)
			}
		}
		if s, err := jws.ParsePrivateJWK(data); err == nil {
			b, err := jws.MarshalPrivateJWK(s)
			if err != nil {
				t.Fatalf("marshal accepted private key: %v", err)
			}
			s2, err := jws.ParsePrivateJWK(b)
			if err != nil || !sameKey(s.Public(), s2.Public()) {
				t.Fatalf("private round trip: %v", err)
			}
		}
		if set, err := jws.ParseJWKSet(data); err == nil {
			b, err := jws.MarshalJWKSet(set.Keys())
			if err != nil {
				t.Fatalf("marshal accepted set: %v", err)
			}
			set2, err := jws.ParseJWKSet(b)
			if err != nil || len(set2.Keys()) != len(set.Keys()) {
				t.Fatalf("set round trip: %v", err)
			}
			for i, k := range set.Keys() {
				if !sameKey(k, set2.Keys()[i]) {
					t.Fatalf("set round trip: key %d differs", i)
				}
			}
		}
	})
}
