package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/spf13/cobra"
)

func newGenesisCmd(e *env) *cobra.Command {
	g := &cobra.Command{
		Use:   "genesis",
		Short: "The founding ceremony: build, endorse and finalize the genesis (protocol/REGISTRY.md §3)",
		Long: `The genesis is the network's root of trust: the founding members with their
governance and signing keys, the first nodes (ids, raft addresses, API URLs,
TLS key pins, voters) and the policy. It is two files:

  genesis.json               the document; its SHA-256 is the network's pin
  genesis.endorsements.json  one endorsement per key listed in the document

The ceremony:
  1. Each founder generates keys (crvsx keys generate) and each node operator
     a TLS key (crvsx registry node-key generate); they send the PUBLIC files
     and pins to the coordinator.
  2. The coordinator writes a spec file and runs "genesis init": it prints the
     document's SHA-256. The document is never edited afterwards: any change
     of a byte is another genesis.
  3. Every key holder checks the document and runs "genesis endorse" with each
     of their private keys, on their own machine, and sends back the output.
  4. The coordinator runs "genesis finalize" with all endorsements: it checks
     every one and writes the endorsements file. Nodes start with both files
     and the pin (registry.genesisSha256 in their configuration).`,
		Example: `  crvsx registry genesis init --spec network.json --out genesis.json
  crvsx registry genesis endorse --genesis genesis.json --key ~/crvsx-keys/TJ_3f7Z.private.jwk > TJ-gov.endorsement
  crvsx registry genesis finalize --genesis genesis.json --out genesis.endorsements.json *.endorsement`,
	}
	g.AddCommand(newGenesisInitCmd(e), newEndorseCmd(e), newGenesisFinalizeCmd(e), newGenesisVerifyCmd(e))
	return g
}

// genesisSpec is the coordinator's input to "genesis init": a genesis
// document with conveniences — public keys and TLS certificates by file,
// defaults for the policy, genesisTime and key validity.
type genesisSpec struct {
	Network         string              `json:"network"`
	GenesisTime     string              `json:"genesisTime,omitempty"`
	KeyLifetimeDays int                 `json:"keyLifetimeDays,omitempty"`
	Policy          json.RawMessage     `json:"policy,omitempty"`
	Members         []genesisSpecMember `json:"members"`
	Nodes           []genesisSpecNode   `json:"nodes"`
	Schemas         []trust.SchemaSpec  `json:"schemas,omitempty"`
}

type genesisSpecMember struct {
	ID   string           `json:"id"`
	Name string           `json:"name"`
	Keys []genesisSpecKey `json:"keys"`
}

type genesisSpecKey struct {
	Role      string          `json:"role"`
	JWKFile   string          `json:"jwkFile,omitempty"`
	JWK       json.RawMessage `json:"jwk,omitempty"`
	NotBefore string          `json:"notBefore,omitempty"`
	NotAfter  string          `json:"notAfter,omitempty"`
}

type genesisSpecNode struct {
	ID            string `json:"id"`
	Member        string `json:"member"`
	RaftAddress   string `json:"raftAddress"`
	APIURL        string `json:"apiUrl"`
	TLSCertFile   string `json:"tlsCertFile,omitempty"`
	TLSSPKISHA256 string `json:"tlsSpkiSha256,omitempty"`
	Role          string `json:"role"`
}

// defaultPolicy is the policy of "genesis init" when the spec gives none:
// two thirds of the active members (at least 2) for every network command,
// 5 minutes of clock skew, commands valid for a day, proposals open for 14
// days, 15 minutes of staleness before a node fails closed.
func defaultPolicy() trust.Policy { return trust.DefaultPolicy() }

const exampleSpec = `{
  "network": "ecrn",
  "genesisTime": "2026-11-27T00:00:00Z",
  "members": [
    {"id": "TJ", "name": "Tajikistan civil registry", "keys": [
      {"role": "governance", "jwkFile": "tj/TJ_3f7ZqK1x0mB9aC2d.public.jwk"},
      {"role": "signing",    "jwkFile": "tj/TJ_Hk2v9QpL0sXw4RtY.public.jwk"}]}
  ],
  "nodes": [
    {"id": "TJ-MOJ-CRVS", "member": "TJ", "raftAddress": "tj.example:7000",
     "apiUrl": "https://tj.example", "tlsCertFile": "tj/TJ-MOJ-CRVS.tls.crt", "role": "voter"}
  ]
}`

func newGenesisInitCmd(e *env) *cobra.Command {
	var specFile, out string
	cmd := &cobra.Command{
		Use:   "init --spec SPEC.json --out genesis.json",
		Short: "Build the genesis document from a spec file and print its SHA-256",
		Long: `Build the genesis document (crvsx-genesis/1) from a spec file, validate it
and write it pretty-printed to --out (never overwriting a file). Its SHA-256,
printed on stdout, is the network's pin: the exact bytes are endorsed and
pinned, so the file must never be re-encoded or edited.

The spec file is the document with conveniences:
  - keys by file: "jwkFile" (a public JWK from "crvsx keys generate",
    relative to the spec file) instead of "jwk";
  - a node's pin by file: "tlsCertFile" (from "crvsx registry node-key
    generate") instead of "tlsSpkiSha256";
  - "genesisTime" defaults to now; a key's "notBefore" to genesisTime and
    its "notAfter" to notBefore + keyLifetimeDays (default 1825);
  - "policy" is merged over the default policy (2/3 of active members, at
    least 2, for every network command; 300 s skew; 1 day command age;
    14 days proposal lifetime; 900 s staleness bound): give only what
    differs.

Example spec:
` + exampleSpec,
		Example: `  crvsx registry genesis init --spec network.json --out genesis.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if specFile == "" || out == "" {
				return fmt.Errorf("--spec SPEC.json and --out genesis.json are required")
			}
			raw, err := e.readInput(specFile, maxInputBytes)
			if err != nil {
				return err
			}
			doc, err := buildGenesis(raw, filepath.Dir(specFile), time.Now())
			if err != nil {
				return fmt.Errorf("%s: %w", specFile, err)
			}
			if err := e.writeOut(out, doc, 0o644, false); err != nil {
				return err
			}
			d, _ := trust.ParseGenesisDocument(doc)
			keys := 0
			for _, m := range d.Members {
				keys += len(m.Keys)
			}
			fmt.Fprintln(e.stdout, trust.GenesisHash(doc))
			fmt.Fprintf(e.stderr, "wrote %s: network %q, %d %s, %d %s to endorse, %d %s; its SHA-256 (above) is the pin\n",
				out, d.Network, len(d.Members), plural(len(d.Members), "member", "members"), keys, plural(keys, "key", "keys"),
				len(d.Nodes), plural(len(d.Nodes), "node", "nodes"))
			return nil
		},
	}
	cmd.Flags().StringVar(&specFile, "spec", "", "the spec file (JSON; see above)")
	cmd.Flags().StringVar(&out, "out", "", "where to write the genesis document")
	return cmd
}

// buildGenesis turns a spec into the document's bytes and validates them.
func buildGenesis(raw []byte, dir string, now time.Time) ([]byte, error) {
	if err := protocol.CheckJSON(raw, protocol.MaxJSONDepth); err != nil {
		return nil, err
	}
	var spec genesisSpec
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return nil, err
	}
	gt := trust.TimestampOf(now)
	if spec.GenesisTime != "" {
		t, err := trust.ParseTimestamp(spec.GenesisTime)
		if err != nil {
			return nil, fmt.Errorf("genesisTime: %w", err)
		}
		gt = t
	}
	pol := defaultPolicy()
	if len(spec.Policy) > 0 {
		dec := json.NewDecoder(bytes.NewReader(spec.Policy))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&pol); err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
	}
	lifetime := spec.KeyLifetimeDays
	if lifetime == 0 {
		lifetime = 5 * 365
	}
	doc := trust.GenesisDocument{Format: trust.GenesisFormat, Network: spec.Network, GenesisTime: gt, Policy: pol, Schemas: spec.Schemas}
	for _, m := range spec.Members {
		gm := trust.GenesisMember{ID: m.ID, Name: m.Name}
		for i, k := range m.Keys {
			jwk := k.JWK
			if k.JWKFile != "" {
				if len(jwk) > 0 {
					return nil, fmt.Errorf("member %s key %d: give jwk or jwkFile, not both", m.ID, i)
				}
				b, err := os.ReadFile(resolve(dir, k.JWKFile))
				if err != nil {
					return nil, fmt.Errorf("member %s: %w", m.ID, err)
				}
				jwk = bytes.TrimSpace(b)
			}
			pub, err := jws.ParsePublicJWK(jwk)
			if err != nil {
				return nil, fmt.Errorf("member %s key %d: %w", m.ID, i, err)
			}
			if pub.Member != m.ID {
				return nil, fmt.Errorf("member %s key %s: the JWK belongs to member %q", m.ID, pub.Kid, pub.Member)
			}
			nb, na := gt, trust.Timestamp(0)
			if k.NotBefore != "" {
				if nb, err = trust.ParseTimestamp(k.NotBefore); err != nil {
					return nil, fmt.Errorf("key %s notBefore: %w", pub.Kid, err)
				}
			}
			if k.NotAfter != "" {
				if na, err = trust.ParseTimestamp(k.NotAfter); err != nil {
					return nil, fmt.Errorf("key %s notAfter: %w", pub.Kid, err)
				}
			} else {
				na = nb + trust.Timestamp(lifetime)*86400
			}
			gm.Keys = append(gm.Keys, trust.KeySpec{Role: k.Role, JWK: json.RawMessage(jwk), NotBefore: nb, NotAfter: na})
		}
		doc.Members = append(doc.Members, gm)
	}
	for _, n := range spec.Nodes {
		pin := n.TLSSPKISHA256
		if n.TLSCertFile != "" {
			if pin != "" {
				return nil, fmt.Errorf("node %s: give tlsSpkiSha256 or tlsCertFile, not both", n.ID)
			}
			p, err := pinOfCertFile(resolve(dir, n.TLSCertFile))
			if err != nil {
				return nil, fmt.Errorf("node %s: %w", n.ID, err)
			}
			pin = p
		}
		doc.Nodes = append(doc.Nodes, trust.GenesisNode{ID: n.ID, Member: n.Member, RaftAddress: n.RaftAddress,
			APIURL: n.APIURL, TLSSPKISHA256: pin, Role: n.Role})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	out := buf.Bytes()
	if _, err := trust.ParseGenesisDocument(out); err != nil {
		return nil, err
	}
	return out, nil
}

func resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func newEndorseCmd(e *env) *cobra.Command {
	var genesisFile, keyFile, out string
	cmd := &cobra.Command{
		Use:   "endorse --genesis genesis.json --key PRIVATE.jwk [--out FILE]",
		Short: "Endorse a genesis document with one of its keys (offline)",
		Long: `Check a genesis document and sign its endorsement with one of the private keys
it lists (governance or signing: every key endorses, which is also its proof
of possession). Run it on the key holder's machine; send back the output.

The document's summary (network, members, keys, nodes, policy) is printed on
stderr: read it before endorsing — an endorsement is consent to exactly
these bytes. The endorsement (a compact JWS) goes to stdout or --out.`,
		Example: `  crvsx registry genesis endorse --genesis genesis.json --key keys/TJ_3f7Z.private.jwk > TJ-gov.endorsement
  crvsx registry genesis endorse --genesis genesis.json --key keys/TJ_Hk2v.private.jwk --out TJ-sig.endorsement`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if genesisFile == "" {
				return fmt.Errorf("--genesis genesis.json is required")
			}
			doc, err := e.readInput(genesisFile, 1<<20)
			if err != nil {
				return err
			}
			s, err := e.readSigner(keyFile)
			if err != nil {
				return err
			}
			d, err := trust.ParseGenesisDocument(doc)
			if err != nil {
				return &exitError{code: exitInvalid, err: fmt.Errorf("%s: %w", genesisFile, err)}
			}
			if !genesisListsKey(d, s.Kid()) {
				return &exitError{code: exitInvalid, err: fmt.Errorf("key %s is not listed in %s: only the keys of the document endorse it", s.Kid(), genesisFile)}
			}
			summarizeGenesis(e, doc, d)
			end, err := trust.Endorse(doc, s, protocol.NewUUID(), trust.TimestampOf(time.Now()))
			if err != nil {
				return err
			}
			if err := e.writeOut(out, append(end, '\n'), 0o644, false); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "endorsed genesis %s with %s\n", trust.GenesisHash(doc), s.Kid())
			return nil
		},
	}
	cmd.Flags().StringVar(&genesisFile, "genesis", "", "the genesis document")
	cmd.Flags().StringVar(&keyFile, "key", "", "a private JWK file of a key listed in the document")
	cmd.Flags().StringVar(&out, "out", "", "write the endorsement here instead of stdout")
	return cmd
}

func genesisListsKey(d *trust.GenesisDocument, kid string) bool {
	for _, m := range d.Members {
		for _, k := range m.Keys {
			if pub, err := jws.ParsePublicJWK(k.JWK); err == nil && pub.Kid == kid {
				return true
			}
		}
	}
	return false
}

func summarizeGenesis(e *env, doc []byte, d *trust.GenesisDocument) {
	w := e.stderr
	fmt.Fprintf(w, "genesis %s\n  network %q, genesisTime %s\n", trust.GenesisHash(doc), d.Network, d.GenesisTime)
	for _, m := range d.Members {
		fmt.Fprintf(w, "  member %s %q\n", m.ID, m.Name)
		for _, k := range m.Keys {
			kid := "?"
			if pub, err := jws.ParsePublicJWK(k.JWK); err == nil {
				kid = pub.Kid
			}
			fmt.Fprintf(w, "    %-10s %s valid %s … %s\n", k.Role, kid, k.NotBefore, k.NotAfter)
		}
	}
	for _, n := range d.Nodes {
		fmt.Fprintf(w, "  node %s (%s) %s raft %s api %s tls %s\n", n.ID, n.Member, n.Role, n.RaftAddress, n.APIURL, n.TLSSPKISHA256)
	}
	p := d.Policy
	fmt.Fprintf(w, "  policy: algorithms %v, skew %ds, command age %ds, proposals %ds, staleness bound %ds\n",
		p.Algorithms, p.ClockSkewSeconds, p.MaxCommandAgeSeconds, p.ProposalLifetimeSeconds, p.StalenessBoundSeconds)
	for _, typ := range trust.NetworkCommandTypes() {
		th, _ := p.Threshold(typ) // a requester type may fall back (REGISTRY.md §2)
		fmt.Fprintf(w, "    %-20s %d/%d of active members, at least %d (now %d of %d)\n", typ, th.Numerator, th.Denominator, th.Minimum,
			th.Required(len(d.Members)), len(d.Members))
	}
}

func newGenesisFinalizeCmd(e *env) *cobra.Command {
	var genesisFile, out string
	cmd := &cobra.Command{
		Use:   "finalize --genesis genesis.json --out genesis.endorsements.json ENDORSEMENT...",
		Short: "Check all endorsements and write the endorsements file; print the pin",
		Long: `Collect the endorsements (files holding one compact JWS each, or several
lines; "-" reads stdin), check each against the document and its keys, and
once every key of the document has endorsed, write the endorsements file.
Missing endorsements are listed by kid and nothing is written.

The genesis SHA-256 — the pin every node is configured with — is printed
on stdout.`,
		Example: `  crvsx registry genesis finalize --genesis genesis.json --out genesis.endorsements.json endorsements/*.endorsement`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if genesisFile == "" || out == "" {
				return fmt.Errorf("--genesis genesis.json and --out FILE are required")
			}
			doc, err := e.readInput(genesisFile, 1<<20)
			if err != nil {
				return err
			}
			d, err := trust.ParseGenesisDocument(doc)
			if err != nil {
				return &exitError{code: exitInvalid, err: fmt.Errorf("%s: %w", genesisFile, err)}
			}
			var ends [][]byte
			seen := map[string]bool{}
			for _, a := range args {
				b, err := e.readInput(a, 1<<20)
				if err != nil {
					return err
				}
				for _, l := range trimLines(b) {
					if !seen[l] { // the same file given twice is not a second endorsement
						seen[l] = true
						ends = append(ends, []byte(l))
					}
				}
			}
			if missing := missingEndorsements(doc, d, ends); len(missing) > 0 {
				return &exitError{code: exitInvalid, err: fmt.Errorf("%d of the document's keys have not endorsed it yet: %s", len(missing), strings.Join(missing, ", "))}
			}
			g, err := trust.ParseGenesis(doc, ends)
			if err != nil {
				return &exitError{code: exitInvalid, err: err}
			}
			f, err := trust.MarshalEndorsementsFile(doc, g.Endorsements())
			if err != nil {
				return err
			}
			if err := e.writeOut(out, append(f, '\n'), 0o644, false); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, g.Hash())
			fmt.Fprintf(e.stderr, "wrote %s: %d endorsements, every key of the document; configure every node with registry.genesisSha256 = %s\n", out, len(ends), g.Hash())
			return nil
		},
	}
	cmd.Flags().StringVar(&genesisFile, "genesis", "", "the genesis document")
	cmd.Flags().StringVar(&out, "out", "", "where to write genesis.endorsements.json")
	return cmd
}

// missingEndorsements lists the kids of the document that no valid
// endorsement among ends covers; invalid endorsements are reported by
// ParseGenesis afterwards.
func missingEndorsements(doc []byte, d *trust.GenesisDocument, ends [][]byte) []string {
	var kids []string
	lookup := map[string]jws.Key{}
	for _, m := range d.Members {
		for _, k := range m.Keys {
			if pub, err := jws.ParsePublicJWK(k.JWK); err == nil {
				kids = append(kids, pub.Kid)
				lookup[pub.Kid] = pub
			}
		}
	}
	have := map[string]bool{}
	for _, tok := range ends {
		v, err := jws.Verify(tok, keyMap(lookup), jws.Options{Typ: protocol.TypRegistryCmd})
		if err == nil {
			have[v.Kid] = true
		}
	}
	var missing []string
	for _, k := range kids {
		if !have[k] {
			missing = append(missing, k)
		}
	}
	slices.Sort(missing)
	return missing
}

type keyMap map[string]jws.Key

func (m keyMap) LookupKey(kid string) (jws.Key, bool) { k, ok := m[kid]; return k, ok }

func newGenesisVerifyCmd(e *env) *cobra.Command {
	var genesisFile, endFile, pin string
	cmd := &cobra.Command{
		Use:   "verify --genesis genesis.json --endorsements genesis.endorsements.json [--genesis-sha256 SHA256]",
		Short: "Check a genesis and its endorsements as a node does at start",
		Long: `Check a genesis document and its endorsements file exactly as a node does
before it starts: the document is valid, every key listed endorsed exactly
these bytes and, with --genesis-sha256, the document's SHA-256 is the pin. Exit 0 and
the pin on stdout when the genesis is acceptable, 1 when it is not.`,
		Example: `  crvsx registry genesis verify --genesis genesis.json --endorsements genesis.endorsements.json --genesis-sha256 5d41…`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if genesisFile == "" || endFile == "" {
				return fmt.Errorf("--genesis and --endorsements are required")
			}
			doc, err := e.readInput(genesisFile, 1<<20)
			if err != nil {
				return err
			}
			eb, err := e.readInput(endFile, 16<<20)
			if err != nil {
				return err
			}
			g, err := loadGenesis(doc, eb)
			if err == nil && pin != "" {
				err = g.CheckPin(strings.ToLower(pin))
			}
			if err != nil {
				return &exitError{code: exitInvalid, err: err}
			}
			d := g.Document()
			summarizeGenesis(e, doc, &d)
			fmt.Fprintln(e.stdout, g.Hash())
			return nil
		},
	}
	cmd.Flags().StringVar(&genesisFile, "genesis", "", "the genesis document")
	cmd.Flags().StringVar(&endFile, "endorsements", "", "the endorsements file")
	cmd.Flags().StringVar(&pin, "genesis-sha256", "", "the expected genesis SHA-256 (hex): the network's pin")
	e.deprecatedAlias(cmd, "pin", "genesis-sha256")
	return cmd
}

func loadGenesis(doc, endorsementsFile []byte) (*trust.Genesis, error) {
	ends, err := trust.ParseEndorsementsFile(endorsementsFile, doc)
	if err != nil {
		return nil, err
	}
	g, err := trust.ParseGenesis(doc, ends)
	if err != nil {
		return nil, err
	}
	return g, nil
}
