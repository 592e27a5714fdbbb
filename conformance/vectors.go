package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/protocoltest"
)

// Exported vectors (DESIGN.md §3): the one list of JWS vectors
// (protocol/protocoltest/vectors.json) minted afresh as files, so that
// another member's implementation runs them with its own tools:
//
//	DIR/vectors.json     the list: name, mutation, expect, cite, alg, file
//	DIR/keys.jwks.json   the trust set that verifies them (a JWK Set)
//	DIR/messages/ALG/…   each message, byte for byte as a sender would post it
//	DIR/README.md        how to run them

// ExportFormat is the format of an exported vectors.json.
const ExportFormat = "crvsx-jws-vector-messages/1"

// Export is the vectors.json that ExportVectors writes.
type Export struct {
	Format  string           `json:"format"`
	About   string           `json:"about"`
	Typ     string           `json:"typ"`  // the typ the receiving endpoint expects
	Keys    string           `json:"keys"` // the JWK Set file, relative to vectors.json
	Vectors []ExportedVector `json:"vectors"`
}

// ExportedVector is one minted vector.
type ExportedVector struct {
	Name     string `json:"name"`
	Mutation string `json:"mutation"`
	Expect   string `json:"expect"` // "accepted" or "rejected:<CODE>"
	Cite     string `json:"cite"`
	Alg      string `json:"alg"` // the algorithm of the signing key
	Kid      string `json:"kid"` // the registered key it claims
	File     string `json:"file"`
}

// ErrExportDir is the error of an export into a directory that is not new
// or empty.
var ErrExportDir = errors.New("conformance: the vectors directory must be new or empty")

// ExportVectors mints every vector of the list that applies to a receiver
// backed by a registry (the enc-use key vector does not: a registry holds
// signing keys only) for two fresh members — the sender's ES256 key and
// EdDSA key, of member sender — carrying a birth event of sender to
// recipient, and writes them into dir. It returns the vectors written.
func ExportVectors(dir, sender, recipient string) (*Export, error) {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("%w: %s has files", ErrExportDir, dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	exp := &Export{Format: ExportFormat, Typ: protocol.TypEvent, Keys: "keys.jwks.json",
		About: "The JWS vectors of protocol/SPEC.md Appendix A, minted for this export: each message is a valid birth event of " +
			sender + " to " + recipient + " changed by exactly one mutation, with the outcome a receiver must give. " +
			"Verify each file's bytes as a message of typ " + protocol.TypEvent + " against the keys of " + "keys.jwks.json" + ". See README.md."}
	var keys []jws.Key
	for _, alg := range []string{jws.AlgES256, jws.AlgEdDSA} {
		s, err := jws.GenerateKey(sender, alg)
		if err != nil {
			return nil, err
		}
		m, err := protocoltest.NewMemberFromSigner(s)
		if err != nil {
			return nil, err
		}
		keys = append(keys, s.Public())
		for _, v := range protocoltest.VectorsFor(alg) {
			if v.Kind == protocoltest.KeyUseEnc {
				continue
			}
			expect := "accepted"
			if v.Code != "" {
				expect = "rejected:" + string(v.Code)
			}
			file := filepath.ToSlash(filepath.Join("messages", alg, v.Name+".jws"))
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(file)), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(dir, file), m.Mint(v.Kind, protocol.TypEvent, protocoltest.BirthMessage(sender, recipient)), 0o644); err != nil {
				return nil, err
			}
			exp.Vectors = append(exp.Vectors, ExportedVector{Name: v.Name, Mutation: v.Kind.String(), Expect: expect,
				Cite: v.Cite, Alg: alg, Kid: s.Kid(), File: file})
		}
	}
	set, err := jws.MarshalJWKSet(keys)
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(dir, exp.Keys), append(set, '\n')); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(exp, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(dir, "README.md"), []byte(vectorsReadme(exp))); err != nil {
		return nil, err
	}
	return exp, writeAtomic(filepath.Join(dir, "vectors.json"), append(b, '\n'))
}

func vectorsReadme(exp *Export) string {
	var b strings.Builder
	b.WriteString(`# crvsx JWS test vectors

Written by ` + "`crvsx conform vectors`" + ` (` + Version + `). They are the vectors of
protocol/SPEC.md Appendix A — the same list the crvsx verifier's own tests and the
conformance suite use — signed afresh for this export: ECDSA signatures are randomised,
the mutations are deterministic. Each message carries its own
messageId.

- ` + "`vectors.json`" + `: one entry a vector: ` + "`name`, `mutation`, `expect`, `cite`, `alg`, `kid`, `file`" + `.
- ` + "`keys.jwks.json`" + `: the trust set, a JWK Set (RFC 7517) with the sender's registered
  signing keys. The vectors whose key is unknown or used with the wrong algorithm rely on
  exactly this set.
- ` + "`messages/ALG/NAME.jws`" + `: each message, byte for byte as a sender would POST it to
  ` + "`/v1/messages`" + ` (some are deliberately not compact JWS, carry a line break, or are too large).

Run them: for each entry, give your verifier the bytes of ` + "`file`" + ` as a message of typ
` + "`" + exp.Typ + "`" + `, with ` + "`keys.jwks.json`" + ` as the keys it trusts. ` + "`expect`" + ` is
` + "`accepted`" + ` or ` + "`rejected:<CODE>`" + `, the stable problem code of SPEC §10 your node must
answer. A node that refuses an ` + "`accepted`" + ` vector is over-strict, which the suite fails
too. The payload is a valid birth event; these vectors are about the JWS layer (SPEC §6.1–§6.4):
the binding, schema and replay checks of a full node are covered by ` + "`crvsx conform run`" + `.

`)
	fmt.Fprintf(&b, "%d vectors:\n\n| alg | name | expect | requirement |\n|---|---|---|---|\n", len(exp.Vectors))
	for _, v := range exp.Vectors {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", v.Alg, v.Name, v.Expect, v.Cite)
	}
	return b.String()
}
