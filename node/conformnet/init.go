package conformnet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"text/template"
	"time"

	"github.com/ecrn/crvsx/node/internal/scaffold"

	"github.com/ecrn/crvsx/conformance"
	"github.com/ecrn/crvsx/node"
	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
)

// Options configure Init.
type Options struct {
	// Candidate is the candidate member's id (ISO 3166-1 alpha-2, not one
	// of the suite's own).
	Candidate string
	// CandidateNodeID is the candidate node's id; default "<XX>-CANDIDATE".
	CandidateNodeID string
	// Host is the address every listener binds to; default 127.0.0.1.
	Host string
	// CandidatePorts, if set, are the candidate's five ports (peer, local,
	// admin, health, raft) instead of free ones chosen now.
	CandidatePorts []int
}

// ErrExists is returned by Init for a directory that already holds a suite.
var ErrExists = errors.New("conformnet: the directory already holds a suite (suite.json); use another --dir or remove it")

// suiteNodeIDs are the node ids of the suite's members (C has no node).
var suiteNodeIDs = map[string]string{
	conformance.MemberA: conformance.MemberA + "-SUITE-A",
	conformance.MemberB: conformance.MemberB + "-SUITE-B",
	conformance.MemberR: conformance.MemberR + "-SUITE-R",
}

// StalenessBound is the test network's policy bound (DESIGN.md §2): short,
// so that the registry plan sees the candidate fail closed within a run.
const StalenessBound = 30 * time.Second

// member is what Init makes for one member.
type member struct {
	id, nodeID string
	gov        *jws.Signer
	sig        []*jws.Signer
	tlsCert    []byte
	tlsKey     []byte
	pin        string
	ports      []string // peer, local, admin, health, raft
	voter      bool
	inGenesis  bool
}

// Init writes a new suite directory (DESIGN.md §2) for the candidate
// o.Candidate. Private keys are written 0600.
func Init(dir string, o Options) error {
	if !protocol.IsMemberID(o.Candidate) || conformance.Reserved(o.Candidate) {
		return fmt.Errorf("conformnet: candidate %q: a two-letter member id other than the suite's %s, %s, %s and %s",
			o.Candidate, conformance.MemberA, conformance.MemberB, conformance.MemberR, conformance.MemberC)
	}
	if o.CandidateNodeID == "" {
		o.CandidateNodeID = o.Candidate + "-CANDIDATE"
	}
	if !protocol.IsMemberNodeID(o.CandidateNodeID) || o.CandidateNodeID[:2] != o.Candidate {
		return fmt.Errorf("conformnet: candidate node id %q: %s-NAME in capitals (SPEC §2)", o.CandidateNodeID, o.Candidate)
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if len(o.CandidatePorts) != 0 && len(o.CandidatePorts) != 5 {
		return fmt.Errorf("conformnet: %d candidate ports; five (peer, local, admin, health, raft)", len(o.CandidatePorts))
	}
	if _, err := os.Stat(filepath.Join(dir, "suite.json")); err == nil {
		return ErrExists
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ports, err := scaffold.FreePorts(o.Host, 5*4)
	if err != nil {
		return err
	}
	if len(o.CandidatePorts) == 5 {
		for i, p := range o.CandidatePorts {
			ports[15+i] = net.JoinHostPort(o.Host, fmt.Sprint(p))
		}
	}
	ms := []*member{
		{id: conformance.MemberA, voter: true, inGenesis: true},
		{id: conformance.MemberB, voter: true, inGenesis: true},
		{id: conformance.MemberR, inGenesis: true},
		{id: o.Candidate, nodeID: o.CandidateNodeID, inGenesis: true},
		{id: conformance.MemberC},
	}
	for i, m := range ms {
		if m.nodeID == "" {
			m.nodeID = suiteNodeIDs[m.id]
		}
		if m.nodeID == "" { // C: a TLS key no registry knows
			m.nodeID = m.id + "-SUITE-C"
		}
		if i < 4 {
			m.ports = ports[5*i : 5*i+5]
		}
		if err := m.generate(); err != nil {
			return err
		}
	}
	raw, ends, hash, err := genesis(ms)
	if err != nil {
		return err
	}
	w := &writer{dir: dir}
	w.file("genesis.json", raw, 0o644)
	w.file("genesis.endorsements.json", ends, 0o644)
	sf := conformance.SuiteFile{Format: conformance.SuiteFormat, Network: networkName, GenesisSHA256: hash,
		Genesis: "genesis.json", Endorsements: "genesis.endorsements.json",
		Policy: conformance.SuitePolicyNotes{StalenessBoundSeconds: int64(StalenessBound / time.Second), ClockSkewSeconds: 300}}
	for _, m := range ms {
		if m.id == o.Candidate {
			sf.Candidate = w.candidate(m, hash)
			continue
		}
		sf.Members = append(sf.Members, w.suiteMember(m, hash))
	}
	w.json("suite.json", sf, 0o644)
	w.candidateGuide(sf, ms[3])
	return w.err
}

// networkName is the test network's name in its genesis.
const networkName = "crvsx-conformance"

func (m *member) generate() error {
	var err error
	if m.gov, err = jws.GenerateKey(m.id, jws.AlgES256); err != nil {
		return err
	}
	s, err := jws.GenerateKey(m.id, jws.AlgES256)
	if err != nil {
		return err
	}
	m.sig = []*jws.Signer{s}
	cert, err := pintls.Generate(m.nodeID, jws.AlgES256)
	if err != nil {
		return err
	}
	if m.tlsCert, m.tlsKey, err = pintls.Encode(cert); err != nil {
		return err
	}
	m.pin, err = pintls.Pin(cert)
	return err
}

// genesis builds the test network's genesis (every member but C, every
// node a founding one: A and B voters, R and the candidate non-voters) and
// its endorsements by every key in it.
func genesis(ms []*member) (raw, endFile []byte, hash string, err error) {
	now := time.Now().UTC()
	// The network is a year old: the receiver plan sends messages created
	// weeks ago (too old for the window, SPEC §6.7), which must be refused
	// for their age, not because no key or member existed then.
	gt := trust.TimestampOf(now.Add(-365 * 24 * time.Hour))
	p := trust.DefaultPolicy()
	p.StalenessBoundSeconds = int64(StalenessBound / time.Second)
	doc := trust.GenesisDocument{Format: trust.GenesisFormat, Network: networkName, GenesisTime: gt, Policy: p}
	var signers []*jws.Signer
	for _, m := range ms {
		if !m.inGenesis {
			continue
		}
		gm := trust.GenesisMember{ID: m.id, Name: "Conformance suite member " + m.id}
		for _, k := range append([]*jws.Signer{m.gov}, m.sig...) {
			role := trust.RoleSigning
			if k == m.gov {
				role = trust.RoleGovernance
			}
			jwk, err := jws.MarshalPublicJWK(k.Public())
			if err != nil {
				return nil, nil, "", err
			}
			gm.Keys = append(gm.Keys, trust.KeySpec{Role: role, JWK: jwk, NotBefore: gt, NotAfter: trust.TimestampOf(now.Add(2 * 365 * 24 * time.Hour))})
			signers = append(signers, k)
		}
		doc.Members = append(doc.Members, gm)
		role := trust.RoleNonvoter
		if m.voter {
			role = trust.RoleVoter
		}
		doc.Nodes = append(doc.Nodes, trust.GenesisNode{ID: m.nodeID, Member: m.id, RaftAddress: m.ports[4],
			APIURL: "https://" + m.ports[0], TLSSPKISHA256: m.pin, Role: role})
	}
	if raw, err = json.MarshalIndent(doc, "", "  "); err != nil {
		return nil, nil, "", err
	}
	raw = append(raw, '\n')
	var ends [][]byte
	for _, s := range signers {
		e, err := trust.Endorse(raw, s, protocol.NewUUID(), gt)
		if err != nil {
			return nil, nil, "", err
		}
		ends = append(ends, e)
	}
	if endFile, err = trust.MarshalEndorsementsFile(raw, ends); err != nil {
		return nil, nil, "", err
	}
	g, err := trust.ParseGenesis(raw, ends)
	if err != nil {
		return nil, nil, "", fmt.Errorf("conformnet: the generated genesis does not parse: %w", err)
	}
	return raw, endFile, g.Hash(), nil
}

// writer writes the suite directory, keeping the first error.
type writer struct {
	dir string
	err error
}

func (w *writer) file(rel string, data []byte, mode os.FileMode) {
	if w.err != nil {
		return
	}
	p := filepath.Join(w.dir, rel)
	if w.err = os.MkdirAll(filepath.Dir(p), 0o700); w.err != nil {
		return
	}
	w.err = scaffold.WriteFile(p, data, mode)
}

func (w *writer) json(rel string, v any, mode os.FileMode) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil && w.err == nil {
		w.err = err
	}
	w.file(rel, append(b, '\n'), mode)
}

// keys writes a member's keys under folder and returns their paths
// (relative to the suite directory): governance, signing…, TLS cert, TLS key.
func (w *writer) keys(folder string, m *member) (gov string, sig []string, cert, key string) {
	jwk := func(rel string, s *jws.Signer) string {
		b, err := jws.MarshalPrivateJWK(s)
		if err != nil && w.err == nil {
			w.err = err
		}
		w.file(rel, b, 0o600)
		return rel
	}
	gov = jwk(filepath.Join(folder, "governance.private.jwk"), m.gov)
	for i, s := range m.sig {
		sig = append(sig, jwk(filepath.Join(folder, fmt.Sprintf("signing-%d.private.jwk", i+1)), s))
	}
	cert, key = filepath.Join(folder, "tls.crt"), filepath.Join(folder, "tls.key")
	w.file(cert, m.tlsCert, 0o644)
	w.file(key, m.tlsKey, 0o600)
	return gov, sig, cert, key
}

// suiteMember writes one of the suite's members: its keys and, for a
// member with a node, that node's configuration (suite/ID/node.json, the
// configuration Start runs).
func (w *writer) suiteMember(m *member, hash string) conformance.MemberFile {
	folder := filepath.Join("suite", m.id)
	gov, sig, cert, key := w.keys(filepath.Join(folder, "keys"), m)
	mf := conformance.MemberFile{ID: m.id, GovernanceKey: gov, SigningKeys: sig, TLSCert: cert, TLSKey: key}
	if len(m.ports) == 0 {
		return mf // C
	}
	mf.NodeID, mf.RaftAddress, mf.APIURL, mf.Voter = m.nodeID, m.ports[4], "https://"+m.ports[0], m.voter
	w.nodeConfig(folder, m, "keys/signing-1.private.jwk", hash)
	return mf
}

// candidate writes the candidate's keys, tokens and node configuration.
func (w *writer) candidate(m *member, hash string) conformance.CandidateFile {
	w.keys(filepath.Join("candidate", "keys"), m)
	w.file(filepath.Join("candidate", "tokens"), []byte("conformance-suite "+scaffold.RandHex(24)+"\n"), 0o600)
	w.file(filepath.Join("candidate", "admin-tokens"), []byte("operator "+scaffold.RandHex(24)+"\n"), 0o600)
	w.nodeConfig("candidate", m, "keys/signing-1.private.jwk", hash)
	return conformance.CandidateFile{Member: m.id, NodeID: m.nodeID, PeerURL: "https://" + m.ports[0], TLSPin: m.pin,
		LocalURL: "http://" + m.ports[1], TokensFile: filepath.Join("candidate", "tokens"), Config: filepath.Join("candidate", "node.json")}
}

// nodeConfig writes folder/node.json: a node of member m on its ports,
// with paths relative to folder, short Raft timeouts (loopback) and quick
// retries (a run is minutes long).
func (w *writer) nodeConfig(folder string, m *member, signingKey, hash string) {
	cfg := node.DefaultConfig()
	cfg.NodeID, cfg.Member, cfg.DataDir = m.nodeID, m.id, "data"
	cfg.Listen = node.Listen{Peer: m.ports[0], Local: m.ports[1], Admin: m.ports[2], Health: m.ports[3], Raft: m.ports[4]}
	cfg.Keys = node.Keys{SigningKey: signingKey, TLSCert: "keys/tls.crt", TLSKey: "keys/tls.key"}
	cfg.Registry = node.Registry{Genesis: "../genesis.json", Endorsements: "../genesis.endorsements.json", GenesisSHA256: hash,
		HeartbeatTimeout: node.Duration(300 * time.Millisecond), ElectionTimeout: node.Duration(600 * time.Millisecond)}
	if folder != "candidate" {
		cfg.Registry.Genesis, cfg.Registry.Endorsements = "../../genesis.json", "../../genesis.endorsements.json"
		w.file(filepath.Join(folder, "tokens"), []byte("suite "+scaffold.RandHex(24)+"\n"), 0o600)
		w.file(filepath.Join(folder, "admin-tokens"), []byte("suite "+scaffold.RandHex(24)+"\n"), 0o600)
	}
	cfg.Exchange.BackoffBase = node.Duration(200 * time.Millisecond)
	cfg.Exchange.BackoffCap = node.Duration(2 * time.Second)
	cfg.Exchange.BreakerCooldown = node.Duration(2 * time.Second)
	cfg.Exchange.PeerTimeout = node.Duration(5 * time.Second)
	cfg.Local.TokensFile = "tokens"
	cfg.Admin.TokensFile = "admin-tokens"
	w.json(filepath.Join(folder, "node.json"), cfg, 0o644)
}

// candidateGuide writes DIR/CANDIDATE.md for the operator of a node
// written elsewhere.
func (w *writer) candidateGuide(sf conformance.SuiteFile, m *member) {
	if w.err != nil {
		return
	}
	var b bytes.Buffer
	data := struct {
		S       conformance.SuiteFile
		Ports   []string
		Version string
		Bound   time.Duration
	}{sf, m.ports, conformance.Version, StalenessBound}
	if w.err = guide.Execute(&b, data); w.err == nil {
		w.file("CANDIDATE.md", b.Bytes(), 0o644)
	}
}

var guide = template.Must(template.New("guide").Parse(`# Conformance run for candidate {{.S.Candidate.Member}}

This directory is a self-contained test network made by ` + "`crvsx conform init`" + `
({{.Version}}). The suite plays its other members; your node is the candidate.

## With this software

    crvsx node --config {{.S.Candidate.Config}}
    crvsx conform run --dir . --out report.json

## With a node written elsewhere

Load into your node:

| what | file or value |
|---|---|
| member id | ` + "`{{.S.Candidate.Member}}`" + ` |
| node id | ` + "`{{.S.Candidate.NodeID}}`" + ` |
| genesis (pin it by its SHA-256) | ` + "`{{.S.Genesis}}`" + `, SHA-256 ` + "`{{.S.GenesisSHA256}}`" + ` |
| genesis endorsements | ` + "`{{.S.Endorsements}}`" + ` |
| signing key (private JWK, ES256) | ` + "`candidate/keys/signing-1.private.jwk`" + ` |
| governance key (private JWK) | ` + "`candidate/keys/governance.private.jwk`" + ` |
| TLS key and certificate (PEM; its SPKI SHA-256 is registered) | ` + "`candidate/keys/tls.key`, `candidate/keys/tls.crt`" + ` (pin ` + "`{{.S.Candidate.TLSPin}}`" + `) |
| peer API (HTTPS, mutual TLS, SPEC §4) | ` + "`{{index .Ports 0}}`" + ` |
| local API (the national system's, SPEC §8.1) | ` + "`{{index .Ports 1}}`" + `, bearer token in ` + "`{{.S.Candidate.TokensFile}}`" + ` |
| registry replica (Raft over pinned mutual TLS, REGISTRY.md §11) | ` + "`{{index .Ports 4}}`" + ` |

Your node joins the registry as a founding non-voter; the suite's nodes
{{range .S.Members}}{{if .NodeID}}` + "`{{.NodeID}}`" + ` ({{.RaftAddress}}{{if .Voter}}, voter{{end}}) {{end}}{{end}}hold it.
The policy's staleness bound is {{.Bound}}: the registry plan cuts your node off
its leader and expects it to fail closed once past it.

Then run, from this directory:

    crvsx conform run --dir . --target https://{{index .Ports 0}} --local http://{{index .Ports 1}} --token-file {{.S.Candidate.TokensFile}} --format html --out report.html

Exit status 0 means every check passed; the JSON report (` + "`--format json`" + `) is what
` + "`crvsx conform certify`" + ` turns into a certificate.
`))
