// Package devnet is the in-process multi-country network of `crvsx devnet`
// and of the node's end-to-end tests: it generates everything a network
// needs (each member's governance, signing and TLS keys, a genesis every
// key endorses, node configurations, local and admin API tokens, and a
// message each member's national system can send) in a folder, then
// runs one real member node per country — real listeners on loopback,
// real stores with fsync, a real 3-voter Raft registry over pinned mutual
// TLS — in this process.
//
// A Network is safe for concurrent use once started; a folder can be
// started again and keeps its data.
//
// Imports: node, node/devnet/samples, node/exchange, node/internal/scaffold,
// node/pintls, node/query, node/records, node/server, protocol,
// protocol/attest, protocol/jws and protocol/trust.
package devnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/ecrn/crvsx/node/internal/scaffold"

	"github.com/ecrn/crvsx/node"
	"github.com/ecrn/crvsx/node/devnet/samples"
	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/node/server"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
)

// NodeIDs are the node ids of the devnet's members.
var NodeIDs = map[string]string{
	"TJ": "TJ-MOJ-CRVS", "TR": "TR-NVI-CRVS", "KZ": "KZ-MOJ-CRVS",
	"UZ": "UZ-MOJ-CRVS", "KG": "KG-GRS-CRVS", "AZ": "AZ-DOST-CRVS",
}

// names of the members' registries, for the genesis and the issuer of
// their attestations.
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
	// Samples are the messages each member's national system can submit
	// as they are (country → file); a folder made before they were
	// written has none.
	Samples map[string]string `json:"samples,omitempty"`
	// Later are the members left out of the genesis (Options.Later).
	Later []string `json:"later,omitempty"`
	// Published are, for an exported compose network, the host's
	// addresses of each node's listeners (country → local, admin, health,
	// peer).
	Published map[string]Published `json:"published,omitempty"`
}

// Published are the host addresses (host:port) of a container's listeners.
type Published struct {
	Local  string `json:"local"`
	Admin  string `json:"admin"`
	Health string `json:"health"`
	Peer   string `json:"peer"`
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
	// TLSPin is the SPKI SHA-256 of the node's TLS key, as registered: what
	// a client of its peer API pins (crvsx registry --node-pin).
	TLSPin string
	// Sample is a message file the member's national system can submit
	// as it is ("" if the devnet has none for this member).
	Sample string

	// Options are passed to node.New each time the member's node starts
	// (tests: node.WithStoreFault, node.WithClock).
	Options []node.Option

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

// AdminURL is the base URL of the member's admin API (the operators'
// tokens; it serves the registry API too).
func (m *Member) AdminURL() string { return "http://" + m.Config.Listen.Admin }

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
	// Later are members generated with keys and a node configuration but
	// left out of the genesis: admitted later (Admit: member.admit, then
	// node.register), their node joining the registry as a non-voter
	// through registry.join. An in-process devnet does not start them.
	Later []string
	// MaxStaleness tightens the policy's staleness bound (10 minutes) in
	// every node's configuration; zero keeps it.
	MaxStaleness time.Duration

	// layout places the nodes; nil is free loopback ports (ExportCompose
	// sets one container per node).
	layout func(i int, country string, ports []string) place
}

// place is where a node listens and how the others reach it.
type place struct {
	listen node.Listen
	apiURL string // the peer API, as registered
	raft   string // the Raft address, as registered
}

// loopback places node i on the five free loopback ports given.
func loopback(_ int, _ string, ports []string) place {
	return place{listen: node.Listen{Peer: ports[0], Local: ports[1], Admin: ports[2], Health: ports[3], Raft: ports[4]},
		apiURL: "https://" + ports[0], raft: ports[4]}
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
		pin, err := tlsPin(cfg)
		if err != nil {
			return nil, err
		}
		net.Members[c] = &Member{Country: c, NodeID: cfg.NodeID, Config: cfg, Token: tokenOf(tok), AdminToken: tokenOf(atok), Gov: gov,
			TLSPin: pin, Sample: net.Manifest.Samples[c]}
	}
	return net, nil
}

// tlsPin is the pin of the node's TLS key.
func tlsPin(cfg node.Config) (string, error) {
	certPEM, err := os.ReadFile(cfg.Keys.TLSCert)
	if err != nil {
		return "", err
	}
	keyPEM, err := os.ReadFile(cfg.Keys.TLSKey)
	if err != nil {
		return "", err
	}
	cert, err := pintls.Load(certPEM, keyPEM)
	if err != nil {
		return "", err
	}
	return pintls.Pin(cert)
}

func tokenOf(b []byte) string {
	tok, _ := server.FirstToken(b) // the devnet wrote the file itself
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
// replica knows a leader and is in sync with it (a replica never in sync
// is stale, and its node holds received events back).
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
		for nd.Registry().Status().Leader.ID == "" || nd.Registry().Fresh() != nil {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: no registry leader, or not in sync with it: %w", m.NodeID, ctx.Err())
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
	nd, err := node.New(ctx, m.Config, n.Log, m.Options...)
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
// local and admin API tokens, the messages each member can submit
// (Manifest.Samples), and devnet.json.
func Generate(dir string, opts Options) error {
	countries := opts.Countries
	if len(countries) == 0 {
		countries = []string{"TJ", "TR", "KZ"}
	}
	all := append(append([]string(nil), countries...), opts.Later...)
	layout := opts.layout
	if layout == nil {
		layout = loopback
	}
	seen := map[string]bool{}
	for _, c := range all {
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
	gt := trust.TimestampOf(now.Add(-time.Minute))
	doc := trust.GenesisDocument{Format: trust.GenesisFormat, Network: "crvsx-devnet", GenesisTime: gt, Policy: policy()}
	type gen struct {
		gov, sig *jws.Signer
		place    place
		tlsCert  []byte
		tlsKey   []byte
		pin      string
	}
	g := map[string]*gen{}
	var signers []*jws.Signer
	// Every port of the network is reserved at once: reserving per member
	// and releasing in between lets the kernel hand one port out twice.
	ports, err := scaffold.FreePorts("127.0.0.1", 5*len(all))
	if err != nil {
		return err
	}
	var founders []string // the founding nodes' peer URLs, for registry.join
	for i, c := range all {
		x := &gen{}
		var err error
		if x.gov, err = jws.GenerateKey(c, jws.AlgES256); err != nil {
			return err
		}
		if x.sig, err = jws.GenerateKey(c, jws.AlgES256); err != nil {
			return err
		}
		cert, err := pintls.Generate(NodeIDs[c], jws.AlgES256)
		if err != nil {
			return err
		}
		if x.tlsCert, x.tlsKey, err = pintls.Encode(cert); err != nil {
			return err
		}
		if x.pin, err = pintls.Pin(cert); err != nil {
			return err
		}
		x.place = layout(i, c, ports[5*i:5*i+5])
		g[c] = x
		if i >= len(countries) {
			continue // admitted later: not in the genesis
		}
		founders = append(founders, x.place.apiURL)
		signers = append(signers, x.gov, x.sig)
		gm := trust.GenesisMember{ID: c, Name: names[c]}
		for _, k := range []struct {
			s    *jws.Signer
			role string
		}{{x.gov, trust.RoleGovernance}, {x.sig, trust.RoleSigning}} {
			jwk, err := jws.MarshalPublicJWK(k.s.Public())
			if err != nil {
				return err
			}
			gm.Keys = append(gm.Keys, trust.KeySpec{Role: k.role, JWK: jwk, NotBefore: gt - 86400, NotAfter: gt + 5*365*86400})
		}
		doc.Members = append(doc.Members, gm)
		role := trust.RoleNonvoter
		if i < 3 {
			role = trust.RoleVoter
		}
		doc.Nodes = append(doc.Nodes, trust.GenesisNode{ID: NodeIDs[c], Member: c, RaftAddress: x.place.raft,
			APIURL: x.place.apiURL, TLSSPKISHA256: x.pin, Role: role})
	}
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	raw = append(raw, '\n')
	var ends [][]byte
	for _, s := range signers {
		e, err := trust.Endorse(raw, s, protocol.NewUUID(), gt)
		if err != nil {
			return err
		}
		ends = append(ends, e)
	}
	endFile, err := trust.MarshalEndorsementsFile(raw, ends)
	if err != nil {
		return err
	}
	gen0, err := trust.ParseGenesis(raw, ends)
	if err != nil {
		return fmt.Errorf("devnet: the generated genesis does not parse: %w", err)
	}
	if err := scaffold.WriteFile(filepath.Join(dir, "genesis.json"), raw, 0o644); err != nil {
		return err
	}
	if err := scaffold.WriteFile(filepath.Join(dir, "endorsements.json"), endFile, 0o644); err != nil {
		return err
	}
	mf := Manifest{Network: doc.Network, GenesisSHA256: gen0.Hash(), Countries: countries, Later: opts.Later,
		Configs: map[string]string{}, Governance: map[string]string{}, Tokens: map[string]string{}, Samples: map[string]string{}}
	for i, c := range all {
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
		token := "devnet-" + c + "-" + scaffold.RandHex(20)
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
			{"admin-tokens", []byte("operator devnet-admin-" + c + "-" + scaffold.RandHex(20) + "\n"), 0o600},
		}
		for _, f := range files {
			if err := scaffold.WriteFile(filepath.Join(md, f.name), f.data, f.mode); err != nil {
				return err
			}
		}
		cfg := node.DefaultConfig()
		cfg.NodeID, cfg.Member, cfg.DataDir = NodeIDs[c], c, "data"
		cfg.Listen = x.place.listen
		cfg.Keys = node.Keys{SigningKey: "keys/signing.private.jwk", TLSCert: "keys/tls.crt", TLSKey: "keys/tls.key"}
		cfg.Registry = node.Registry{Genesis: "../genesis.json", Endorsements: "../endorsements.json", GenesisSHA256: gen0.Hash()}
		if i >= len(countries) {
			cfg.Registry.Join = founders
			if err := writeAdmission(md, c, x.gov, x.sig, trust.NodeSpec{ID: NodeIDs[c], RaftAddress: x.place.raft, APIURL: x.place.apiURL,
				TLSSPKISHA256: x.pin, DesiredRole: trust.RoleNonvoter}, now); err != nil {
				return err
			}
		}
		if opts.Fast {
			cfg.Registry.HeartbeatTimeout = node.Duration(300 * time.Millisecond)
			cfg.Registry.ElectionTimeout = node.Duration(600 * time.Millisecond)
			cfg.Exchange.BackoffBase = node.Duration(200 * time.Millisecond)
			cfg.Exchange.BackoffCap = node.Duration(2 * time.Second)
			cfg.Exchange.BreakerCooldown = node.Duration(2 * time.Second)
			cfg.Exchange.PeerTimeout = node.Duration(5 * time.Second)
		}
		cfg.Exchange.NoSync = opts.NoSync
		cfg.Registry.MaxStaleness = node.Duration(opts.MaxStaleness)
		cfg.Local.TokensFile = "tokens"
		cfg.Queries.Authority = names[c] // issuer.authority of its attestations
		cfg.Admin.TokensFile = "admin-tokens"
		cb, err := json.MarshalIndent(cfg, "", "  ")
		if err != nil {
			return err
		}
		cpath := filepath.Join(md, "node.json")
		if err := scaffold.WriteFile(cpath, append(cb, '\n'), 0o644); err != nil {
			return err
		}
		mf.Configs[c] = cpath
		mf.Governance[c] = filepath.Join(md, "keys/governance.private.jwk")
		mf.Tokens[c] = filepath.Join(md, "tokens")
		if ms, ok := messageSamples[c]; ok && seen[ms.to] {
			msg, err := Template(ms.sample)
			if err != nil {
				return err
			}
			path := filepath.Join(md, ms.file)
			if err := scaffold.WriteFile(path, msg, 0o644); err != nil {
				return err
			}
			mf.Samples[c] = path
		}
	}
	mb, err := json.MarshalIndent(mf, "", "  ")
	if err != nil {
		return err
	}
	return scaffold.WriteFile(filepath.Join(dir, "devnet.json"), append(mb, '\n'), 0o644)
}

// messageSamples are the messages the devnet writes for a member's
// national system to submit (Manifest.Samples): a sample of
// node/devnet/samples sent by the member, the file it is written to in the
// member's folder, and its recipient, which must be in the network.
var messageSamples = map[string]struct{ sample, file, to string }{
	"TR": {"birth-tajik-child-in-istanbul.json", "birth.json", "TJ"},
	"KZ": {"death-turkish-citizen-in-almaty.json", "death.json", "TR"},
	"TJ": {"marriage-tajik-kazakh-couple-in-dushanbe.json", "marriage.json", "KZ"},
}

// messageIDLine is the messageId member of a sample, on its own line.
var messageIDLine = regexp.MustCompile(`\n  "messageId": "[0-9a-f-]{36}",`)

// Template returns the sample called name (node/devnet/samples) without
// its messageId: a message a node's local API accepts as it is, again and
// again, assigning each submission a new messageId.
func Template(name string) ([]byte, error) {
	msg := samples.Get(name)
	if msg == nil {
		return nil, fmt.Errorf("devnet: no sample %s", name)
	}
	if len(messageIDLine.FindAll(msg, -1)) != 1 {
		return nil, fmt.Errorf("devnet: sample %s does not have its messageId on one line", name)
	}
	return messageIDLine.ReplaceAll(msg, nil), nil
}

// policy of the devnet: the registry's default, with a 10-minute
// staleness bound.
func policy() trust.Policy {
	p := trust.DefaultPolicy()
	p.StalenessBoundSeconds = 600
	return p
}
