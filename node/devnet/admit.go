package devnet

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ecrn/crvsx/node/internal/scaffold"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
)

// The files of a member admitted later (Options.Later), in its folder: the
// args of its member.admit (its public governance and signing keys) and of
// its node.register (its node as a non-voter).
const (
	admitArgsFile    = "admit.json"
	registerArgsFile = "node.register.json"
)

func writeAdmission(md, country string, gov, sig *jws.Signer, spec trust.NodeSpec, now time.Time) error {
	args := trust.AdmitArgs{Member: country, Name: names[country]}
	for _, k := range []struct {
		s    *jws.Signer
		role string
	}{{gov, trust.RoleGovernance}, {sig, trust.RoleSigning}} {
		jwk, err := jws.MarshalPublicJWK(k.s.Public())
		if err != nil {
			return err
		}
		args.Keys = append(args.Keys, trust.KeySpec{Role: k.role, JWK: jwk,
			NotBefore: trust.TimestampOf(now.Add(-time.Hour)), NotAfter: trust.TimestampOf(now.AddDate(5, 0, 0))})
	}
	for name, v := range map[string]any{admitArgsFile: args, registerArgsFile: trust.NodeRegisterArgs{Node: spec}} {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		if err := scaffold.WriteFile(filepath.Join(md, name), append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// AdmissionEntries returns the two signed registry commands that bring
// country, a member the network in dir admits later, in: member.admit,
// signed by every founding member's governance key (above any threshold)
// and by the new member's keys (proof of possession), then node.register of
// its node, signed by its new governance key. Submit them in order; the
// node, started with registry.join, then joins the registry as a
// non-voter.
func AdmissionEntries(dir, country string) ([][]byte, error) {
	mf, err := LoadManifest(dir)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(mf.Later, country) {
		return nil, fmt.Errorf("devnet: %s is not a member this network admits later (later: %v)", country, mf.Later)
	}
	signer := func(file string) (*jws.Signer, error) {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		return jws.ParsePrivateJWK(b)
	}
	md := filepath.Join(dir, country)
	newGov, err := signer(filepath.Join(md, "keys/governance.private.jwk"))
	if err != nil {
		return nil, err
	}
	newSig, err := signer(filepath.Join(md, "keys/signing.private.jwk"))
	if err != nil {
		return nil, err
	}
	var founders []*jws.Signer
	for _, c := range mf.Countries {
		s, err := signer(mf.Governance[c])
		if err != nil {
			return nil, err
		}
		founders = append(founders, s)
	}
	var admit trust.AdmitArgs
	var register trust.NodeRegisterArgs
	for name, v := range map[string]any{admitArgsFile: &admit, registerArgsFile: &register} {
		b, err := os.ReadFile(filepath.Join(md, name))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, v); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(md, name), err)
		}
	}
	now := trust.TimestampOf(time.Now())
	c1, err := trust.NewCommand(mf.GenesisSHA256, protocol.NewUUID(), trust.CmdMemberAdmit, now, founders[0].Member(), admit)
	if err != nil {
		return nil, err
	}
	e1, err := c1.Sign(append(founders, newGov, newSig)...)
	if err != nil {
		return nil, err
	}
	c2, err := trust.NewCommand(mf.GenesisSHA256, protocol.NewUUID(), trust.CmdNodeRegister, now, country, register)
	if err != nil {
		return nil, err
	}
	e2, err := c2.Sign(newGov)
	if err != nil {
		return nil, err
	}
	return [][]byte{e1, e2}, nil
}

// LoadManifest reads dir/devnet.json.
func LoadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "devnet.json"))
	if err != nil {
		return nil, err
	}
	var mf Manifest
	if err := json.Unmarshal(b, &mf); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "devnet.json"), err)
	}
	return &mf, nil
}
