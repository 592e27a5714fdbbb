// Package devnet is the in-process multi-country network of `crvsx devnet`
// and of the node's end-to-end tests: it generates everything a network
// needs (each member's governance, signing and TLS keys, a genesis every
// key endorses, node configurations and local API tokens) in a folder, then
// runs one real member node per country — real listeners on loopback,
// real stores with fsync, a real 3-voter Raft registry over pinned mutual
// TLS — in this process.
//
// A Network is safe for concurrent use once started; a folder can be
// started again and keeps its data.
package devnet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/ecrn/crvsx/node"
	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
)

// NodeIDs are the node ids of the devnet's members.
var NodeIDs = map[string]string{
	"TJ": "TJ-MOJ-CRVS", "TR": "TR-NVI-CRVS", "KZ": "KZ-MOJ-CRVS",
	"UZ": "UZ-MOJ-CRVS", "KG": "KG-GRS-CRVS", "AZ": "AZ-DOST-CRVS",
}

// names of the members' registries, for the genesis.
var names = map[string]string{
	"TJ": "Civil registry offices (ZAGS) of the Republic of Tajikistan",
	"TR": "Nüfus ve Vatandaşlık İşleri Genel Müdürlüğü (Türkiye)",
	"KZ": "Civil registration service of the Republic of Kazakhstan",
	"UZ": "Civil registry (FHDYO) of the Republic of Uzbekistan",
	"KG": "State registration service of the Kyrgyz Republic",
	"AZ": "Civil registration service of the Republic of Azerbaijan",
}

// Manifest is devnet.json: what Generate made, so that a folder can be
// started again.
type Manifest struct {
	Network       string            `json:"network"`
	GenesisSHA256 string            `json:"genesisSha256"`
	Countries     []string          `json:"countries"`
	Configs       map[string]string `json:"configs"`       // country → node config file
	Governance    map[string]string `json:"governanceKey"` // country → private governance JWK
	Tokens        map[string]string `json:"tokens"`        // country → file with the local API token
}

// Member is one country of a running network.
type Member struct {
	Country string
	NodeID  string
	Config  node.Config
	Token   string // the local API's bearer token
	// AdminToken is the admin API's bearer token.
	AdminToken string
	Gov        *jws.Signer

	mu     sync.Mutex
	node   *node.Node
	cancel context.CancelFunc
	done   chan error
}

// Node returns the member's running node (nil while stopped).
func (m *Member) Node() *node.Node {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.node
}

// LocalURL is the base URL of the member's local API.
func (m *Member) LocalURL() string { return "http://" + m.Config.Listen.Local }

// PeerURL is the base URL of the member's peer API.
func (m *Member) PeerURL() string { return "https://" + m.Config.Listen.Peer }

// HealthURL is the base URL of the member's health listener.
func (m *Member) HealthURL() string { return "http://" + m.Config.Listen.Health }

// Network is a devnet: its folder and its members.
type Network struct {
	Dir      string
	Manifest Manifest
	Members  map[string]*Member
	Log      *slog.Logger
}

// Options configure Generate.
type Options struct {
	Countries []string // default TJ, TR, KZ; the first three are registry voters
	// NoSync turns fsync off (benchmarks of the plumbing only).
	NoSync bool
	// Fast uses short Raft timeouts (loopback) instead of the WAN defaults.
	Fast bool
}

// Open loads the network in dir, generating it first when dir has no
// devnet.json.
func Open(dir string, opts Options, log *slog.Logger) (*Network, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mf := filepath.Join(dir, "devnet.json")
	if _, err := os.Stat(mf); errors.Is(err, os.ErrNotExist) {
		if err := Generate(dir, opts); err != nil {
			return nil, err
		}
	}
	b, err := os.ReadFile(mf)
	if err != nil {
		return nil, err
	}
	net := &Network{Dir: dir, Members: map[string]*Member{}, Log: log}
	if err := json.Unmarshal(b, &net.Manifest); err != nil {
		return nil, fmt.Errorf("%s: %w", mf, err)
	}
	for _, c := range net.Manifest.Countries {
		cfg, err := node.LoadConfig(net.Manifest.Configs[c])
		if err != nil {
			return nil, err
		}
		tok, err := os.ReadFile(net.Manifest.Tokens[c])
		if err != nil {
			return nil, err
		}
		gb, err := os.ReadFile(net.Manifest.Governance[c])
		if err != nil {
			return nil, err
		}
		gov, err := jws.ParsePrivateJWK(gb)
		if err != nil {
			return nil, err
		}
		atok, err := os.ReadFile(cfg.Admin.TokensFile)
		if err != nil {
			return nil, err
		}
		net.Members[c] = &Member{Country: c, NodeID: cfg.NodeID, Config: cfg, Token: tokenOf(tok), AdminToken: tokenOf(atok), Gov: gov}
	}
	return net, nil
}

func tokenOf(b []byte) string {
	tok, _ := node.FirstToken(b) // the devnet wrote the file itself
	return tok
}

// Countries returns the member countries in order.
func (n *Network) Countries() []string { return append([]string(nil), n.Manifest.Countries...) }

// Start starts every member's node and waits until the registry has a
// leader and every node serves.
func (n *Network) Start(ctx context.Context) error {
	for _, c := range n.Manifest.Countries {
		if err := n.StartMember(ctx, c); err != nil {
			n.Stop()
			return err
		}
	}
	return n.WaitReady(ctx)
}

// WaitReady waits until every running node serves and its registry
// replica knows a leader.
func (n *Network) WaitReady(ctx context.Context) error {
	for _, c := range n.Manifest.Countries {
		m := n.Members[c]
		nd := m.Node()
		if nd == nil {
			continue
		}
		select {
		case <-nd.Ready():
		case <-ctx.Done():
			return ctx.Err()
		}
		for nd.Registry().Status().Leader.ID == "" {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: no registry leader: %w", m.NodeID, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// StartMember starts one member's node (again).
func (n *Network) StartMember(ctx context.Context, country string) error {
	m, ok := n.Members[country]
	if !ok {
		return fmt.Errorf("devnet: no member %s", country)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.node != nil {
		return fmt.Errorf("devnet: %s is running", country)
	}
	nd, err := node.New(ctx, m.Config, n.Log)
	if err != nil {
		return fmt.Errorf("start %s: %w", m.NodeID, err)
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- nd.Run(rctx) }()
	m.node, m.cancel, m.done = nd, cancel, done
	select {
	case <-nd.Ready():
		return nil
	case err := <-done:
		m.node = nil
		return fmt.Errorf("%s stopped at start: %v", m.NodeID, err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// StopMember stops one member's node cleanly and waits for it.
func (n *Network) StopMember(country string) error {
	m, ok := n.Members[country]
	if !ok {
		return fmt.Errorf("devnet: no member %s", country)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.node == nil {
		return nil
	}
	m.cancel()
	err := <-m.done
	m.node = nil
	return err
}

// Stop stops every node.
func (n *Network) Stop() {
	for _, c := range n.Manifest.Countries {
		_ = n.StopMember(c)
	}
}

// Generate writes a new network into dir: keys (private ones mode 0600),
// genesis and endorsements, node configurations on free loopback ports,
// local API tokens, and devnet.json.
func Generate(dir string, opts Options) error {
	countries := opts.Countries
	if len(countries) == 0 {
		countries = []string{"TJ", "TR", "KZ"}
	}
	seen := map[string]bool{}
	for _, c := range countries {
		if _, ok := NodeIDs[c]; !ok {
			known := make([]string, 0, len(NodeIDs))
			for k := range NodeIDs {
				known = append(known, k)
			}
			sort.Strings(known)
			return fmt.Errorf("devnet: no sample node for %q (one of %v)", c, known)
		}
		if seen[c] {
			return fmt.Errorf("devnet: %s named twice", c)
		}
		seen[c] = true
	}
	if len(countries) < 2 {
		return errors.New("devnet: at least two countries")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	now := time.Now().UTC()
	gt := registry.TimestampOf(now.Add(-time.Minute))
	doc := registry.GenesisDocument{Format: registry.GenesisFormat, Network: "crvsx-devnet", GenesisTime: gt, Policy: policy()}
	type gen struct {
		gov, sig *jws.Signer
		ports    []string
		tlsCert  []byte
		tlsKey   []byte
		pin      string
	}
	g := map[string]*gen{}
	var signers []*jws.Signer
	// Every port of the network is reserved at once: reserving per member
	// and releasing in between lets the kernel hand one port out twice.
	ports, err := freePorts(5 * len(countries))
	if err != nil {
		return err
	}
	for i, c := range countries {
		x := &gen{}
		var err error
		if x.gov, err = jws.GenerateKey(c, jws.AlgES256); err != nil {
			return err
		}
		if x.sig, err = jws.GenerateKey(c, jws.AlgES256); err != nil {
			return err
		}
		cert, err := registry.GenerateNodeTLSKey(NodeIDs[c], jws.AlgES256)
		if err != nil {
			return err
		}
		if x.tlsCert, x.tlsKey, err = registry.EncodeNodeTLSKey(cert); err != nil {
			return err
		}
		if x.pin, err = registry.CertificatePin(cert); err != nil {
			return err
		}
		x.ports = ports[5*i : 5*i+5]
		g[c] = x
		signers = append(signers, x.gov, x.sig)
		gm := registry.GenesisMember{ID: c, Name: names[c]}
		for _, k := range []struct {
			s    *jws.Signer
			role string
		}{{x.gov, registry.RoleGovernance}, {x.sig, registry.RoleSigning}} {
			jwk, err := jws.MarshalPublicJWK(k.s.Public())
			if err != nil {
				return err
			}
			gm.Keys = append(gm.Keys, registry.KeySpec{Role: k.role, JWK: jwk, NotBefore: gt - 86400, NotAfter: gt + 5*365*86400})
		}
		doc.Members = append(doc.Members, gm)
		role := registry.RoleNonvoter
		if i < 3 {
			role = registry.RoleVoter
		}
		doc.Nodes = append(doc.Nodes, registry.GenesisNode{ID: NodeIDs[c], Member: c, RaftAddress: x.ports[4],
			APIURL: "https://" + x.ports[0], TLSSPKISHA256: x.pin, Role: role})
	}
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	raw = append(raw, '\n')
	var ends [][]byte
	for _, s := range signers {
		e, err := registry.Endorse(raw, s, protocol.NewUUID(), gt)
		if err != nil {
			return err
		}
		ends = append(ends, e)
	}
	endFile, err := registry.MarshalEndorsementsFile(raw, ends)
	if err != nil {
		return err
	}
	gen0, err := registry.ParseGenesis(raw, ends)
	if err != nil {
		return fmt.Errorf("devnet: the generated genesis does not parse: %w", err)
	}
	if err := writeFile(filepath.Join(dir, "genesis.json"), raw, 0o644); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "endorsements.json"), endFile, 0o644); err != nil {
		return err
	}
	mf := Manifest{Network: doc.Network, GenesisSHA256: gen0.Hash(), Countries: countries,
		Configs: map[string]string{}, Governance: map[string]string{}, Tokens: map[string]string{}}
	for _, c := range countries {
		x := g[c]
		md := filepath.Join(dir, c)
		if err := os.MkdirAll(filepath.Join(md, "keys"), 0o700); err != nil {
			return err
		}
		privSig, err := jws.MarshalPrivateJWK(x.sig)
		if err != nil {
			return err
		}
		privGov, err := jws.MarshalPrivateJWK(x.gov)
		if err != nil {
			return err
		}
		token := "devnet-" + c + "-" + randHex(20)
		files := []struct {
			name string
			data []byte
			mode os.FileMode
		}{
			{"keys/signing.private.jwk", privSig, 0o600},
			{"keys/governance.private.jwk", privGov, 0o600},
			{"keys/tls.crt", x.tlsCert, 0o644},
			{"keys/tls.key", x.tlsKey, 0o600},
			{"tokens", []byte("national-system " + token + "\n"), 0o600},
			{"admin-tokens", []byte("operator devnet-admin-" + c + "-" + randHex(20) + "\n"), 0o600},
		}
		for _, f := range files {
			if err := writeFile(filepath.Join(md, f.name), f.data, f.mode); err != nil {
				return err
			}
		}
		cfg := node.DefaultConfig()
		cfg.NodeID, cfg.Member, cfg.DataDir = NodeIDs[c], c, "data"
		cfg.Listen = node.Listen{Peer: x.ports[0], Local: x.ports[1], Admin: x.ports[2], Health: x.ports[3], Raft: x.ports[4]}
		cfg.Keys = node.Keys{SigningKey: "keys/signing.private.jwk", TLSCert: "keys/tls.crt", TLSKey: "keys/tls.key"}
		cfg.Registry = node.Registry{Genesis: "../genesis.json", Endorsements: "../endorsements.json", GenesisSHA256: gen0.Hash()}
		if opts.Fast {
			cfg.Registry.HeartbeatTimeout = node.Duration(300 * time.Millisecond)
			cfg.Registry.ElectionTimeout = node.Duration(600 * time.Millisecond)
			cfg.Exchange.BackoffBase = node.Duration(200 * time.Millisecond)
			cfg.Exchange.BackoffCap = node.Duration(2 * time.Second)
			cfg.Exchange.BreakerCooldown = node.Duration(2 * time.Second)
			cfg.Exchange.PeerTimeout = node.Duration(5 * time.Second)
		}
		cfg.Exchange.NoSync = opts.NoSync
		cfg.Local.TokensFile = "tokens"
		cfg.Admin.TokensFile = "admin-tokens"
		cb, err := json.MarshalIndent(cfg, "", "  ")
		if err != nil {
			return err
		}
		cpath := filepath.Join(md, "node.json")
		if err := writeFile(cpath, append(cb, '\n'), 0o644); err != nil {
			return err
		}
		mf.Configs[c] = cpath
		mf.Governance[c] = filepath.Join(md, "keys/governance.private.jwk")
		mf.Tokens[c] = filepath.Join(md, "tokens")
	}
	mb, err := json.MarshalIndent(mf, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "devnet.json"), append(mb, '\n'), 0o644)
}

// policy of the devnet: the registry's default, with a 10-minute
// staleness bound.
func policy() registry.Policy {
	p := registry.DefaultPolicy()
	p.StalenessBoundSeconds = 600
	return p
}

// freePorts reserves n loopback ports by listening on :0 and releasing
// them; the node binds them a moment later.
func freePorts(n int) ([]string, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// writeFile writes a new file durably.
func writeFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
