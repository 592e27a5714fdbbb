package trust_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"

	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

func sha256hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestGenesis(t *testing.T) {
	n := trusttest.New(t, "TJ", "TR", "KZ")
	ends := n.Endorsements()

	t.Run("ok/hash-is-sha256-of-the-exact-bytes", func(t *testing.T) {
		if n.Genesis.Hash() != sha256hex(n.Doc) || n.Genesis.CheckPin(sha256hex(n.Doc)) != nil {
			t.Fatal("genesis hash is not SHA-256 of the document bytes")
		}
		s := n.State()
		if s.ChainHead() != n.Genesis.Hash() || s.AppliedIndex() != 0 || s.ConsensusTime() != trusttest.GenesisTime {
			t.Fatal("initial journal")
		}
		if len(s.Members()) != 3 || len(s.Keys()) != 6 || len(s.Nodes()) != 3 {
			t.Fatal("initial content")
		}
	})
	t.Run("ok/endorsements-file-round-trip", func(t *testing.T) {
		f, err := trust.MarshalEndorsementsFile(n.Doc, ends)
		if err != nil {
			t.Fatal(err)
		}
		back, err := trust.ParseEndorsementsFile(f, n.Doc)
		if err != nil || len(back) != len(ends) {
			t.Fatal(err)
		}
		if _, err := trust.ParseGenesis(n.Doc, back); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("fail/pin-differs", func(t *testing.T) {
		if err := n.Genesis.CheckPin(sha256hex([]byte("other"))); !errors.Is(err, trust.ErrGenesisPin) {
			t.Fatal(err)
		}
	})
	other := trusttest.New(t, "TJ", "TR", "KZ")
	otherEnd, err := trust.Endorse(other.Doc, n.Member("TJ").Gov, n.NextID(), trusttest.GenesisTime)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(d *trust.GenesisDocument)) []byte {
		var d trust.GenesisDocument
		if err := json.Unmarshal(n.Doc, &d); err != nil {
			t.Fatal(err)
		}
		f(&d)
		b, _ := json.Marshal(d)
		return b
	}
	cases := []struct {
		name string
		doc  []byte
		ends [][]byte
	}{
		{"fail/missing-endorsement", n.Doc, ends[1:]},
		{"fail/duplicate-endorsement", n.Doc, append([][]byte{ends[0]}, ends...)},
		{"fail/endorsement-by-key-not-in-document", n.Doc, append(bytes2(ends), other.Endorsements()[0])},
		{"fail/endorsement-of-another-document", n.Doc, append([][]byte{otherEnd}, ends[1:]...)},
		{"fail/document-reformatted-after-endorsing", append(n.Doc, ' '), ends},
		{"fail/unknown-member", bytes.Replace(n.Doc, []byte(`"format"`), []byte(`"extra": 1, "format"`), 1), nil},
		{"fail/member-name-in-other-case", bytes.Replace(n.Doc, []byte(`"network"`), []byte(`"Network"`), 1), nil},
		{"fail/wrong-format", edit(func(d *trust.GenesisDocument) { d.Format = "crvsx-genesis/2" }), nil},
		{"fail/no-voter", edit(func(d *trust.GenesisDocument) {
			for i := range d.Nodes {
				d.Nodes[i].Role = trust.RoleNonvoter
			}
		}), nil},
		{"fail/policy-missing-threshold", edit(func(d *trust.GenesisDocument) { delete(d.Policy.Thresholds, trust.CmdPolicyChange) }), nil},
		{"fail/member-without-governance-key", edit(func(d *trust.GenesisDocument) { d.Members[0].Keys = d.Members[0].Keys[1:] }), nil},
		{"fail/key-not-valid-at-genesis", edit(func(d *trust.GenesisDocument) { d.Members[0].Keys[0].NotBefore = d.GenesisTime + 1 }), nil},
		{"fail/duplicate-node-pin", edit(func(d *trust.GenesisDocument) { d.Nodes[1].TLSSPKISHA256 = d.Nodes[0].TLSSPKISHA256 }), nil},
		{"fail/key-of-another-member", edit(func(d *trust.GenesisDocument) { d.Members[0].Keys = append(d.Members[0].Keys, d.Members[1].Keys[0]) }), nil},
	}
	if _, err := trust.ParseGenesisDocument(edit(func(*trust.GenesisDocument) {})); err != nil {
		t.Fatalf("unedited document: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.ends != nil {
				// An endorsement case: the document itself is fine.
				_, err = trust.ParseGenesis(tc.doc, tc.ends)
			} else {
				// A document case: refused without looking at endorsements.
				_, err = trust.ParseGenesisDocument(tc.doc)
			}
			if !errors.Is(err, trust.ErrInvalidGenesis) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func bytes2(b [][]byte) [][]byte { return append([][]byte(nil), b...) }
