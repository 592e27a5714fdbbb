package devnet

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ecrn/crvsx/node"
	"github.com/ecrn/crvsx/node/internal/scaffold"
)

// ComposeOptions configure ExportCompose.
type ComposeOptions struct {
	// Founders are the genesis members (default TJ, TR, KZ: the first
	// three are the registry's voters); Later are admitted afterwards
	// (default UZ).
	Founders, Later []string
	// Subnet is the network's private IPv4 /24 (default 172.28.0.0/24);
	// node i gets the address .10+i.
	Subnet string
	// Image is the crvsx image (default crvsx:dev).
	Image string
	// MaxStaleness tightens the registry's staleness bound (fault tests
	// cut a node off and want it stale in seconds); zero keeps the
	// policy's 10 minutes.
	MaxStaleness time.Duration
	// UID and GID are the user the containers run as: the owner of the
	// files written, so that the nodes can read their keys (mode 0600).
	UID, GID int
}

// Container ports of every node: each node has its own address, so they
// are the same in every container.
const (
	cPeer   = "8443"
	cLocal  = "8080"
	cAdmin  = "8081"
	cHealth = "9090"
	cRaft   = "7000"
)

// ExportCompose writes into dir a network for Docker Compose: one
// container per node on a private network with its own address (the
// peer API and Raft bound to it), the local, admin and health listeners
// published on the host's loopback, the folder of each member mounted as
// its node's /srv/crvsx/node. The founders are in the genesis; the later
// members' nodes start and wait to join until AdmissionEntries are
// submitted. It writes docker-compose.yml, .env and devnet.json (with the
// published addresses), and returns the manifest.
func ExportCompose(dir string, o ComposeOptions) (*Manifest, error) {
	if len(o.Founders) == 0 {
		o.Founders = []string{"TJ", "TR", "KZ"}
	}
	if o.Later == nil {
		o.Later = []string{"UZ"}
	}
	if o.Subnet == "" {
		o.Subnet = "172.28.0.0/24"
	}
	if o.Image == "" {
		o.Image = "crvsx:dev"
	}
	ip, ipnet, err := net.ParseCIDR(o.Subnet)
	if err != nil || ip.To4() == nil || !ip.Equal(ipnet.IP) {
		return nil, fmt.Errorf("devnet: subnet %q: want an IPv4 network such as 172.28.0.0/24", o.Subnet)
	}
	if ones, _ := ipnet.Mask.Size(); ones != 24 {
		return nil, fmt.Errorf("devnet: subnet %q: want a /24", o.Subnet)
	}
	if _, err := os.Stat(filepath.Join(dir, "devnet.json")); err == nil {
		return nil, fmt.Errorf("devnet: %s has a network already", dir)
	}
	addr := func(i int) string {
		b := ipnet.IP.To4()
		return fmt.Sprintf("%d.%d.%d.%d", b[0], b[1], b[2], 10+i)
	}
	published := map[string]Published{}
	all := append(append([]string(nil), o.Founders...), o.Later...)
	layout := func(i int, country string, ports []string) place {
		published[country] = Published{Peer: ports[0], Local: ports[1], Admin: ports[2], Health: ports[3]}
		a := addr(i)
		return place{
			listen: node.Listen{Peer: net.JoinHostPort(a, cPeer), Raft: net.JoinHostPort(a, cRaft),
				Local: "0.0.0.0:" + cLocal, Admin: "0.0.0.0:" + cAdmin, Health: "0.0.0.0:" + cHealth,
				// Inside the compose network only; the host publishes them on
				// its loopback.
				AllowRemotePlaintext: true},
			apiURL: "https://" + net.JoinHostPort(a, cPeer),
			raft:   net.JoinHostPort(a, cRaft),
		}
	}
	if err := Generate(dir, Options{Countries: o.Founders, Later: o.Later, Fast: true, MaxStaleness: o.MaxStaleness, layout: layout}); err != nil {
		return nil, err
	}
	mfPath := filepath.Join(dir, "devnet.json")
	b, err := os.ReadFile(mfPath)
	if err != nil {
		return nil, err
	}
	var mf Manifest
	if err := json.Unmarshal(b, &mf); err != nil {
		return nil, err
	}
	mf.Published = published
	// The manifest's paths are the host's.
	if b, err = json.MarshalIndent(mf, "", "  "); err != nil {
		return nil, err
	}
	if err := scaffold.WriteFile(mfPath, append(b, '\n'), 0o644); err != nil {
		return nil, err
	}

	var y strings.Builder
	y.WriteString(`# A crvsx network, one container per node (crvsx devnet compose).
# Works with docker-compose (v1) and docker compose (v2). Build the image
# first (see cmd/crvsx/Dockerfile); .env names it and the user the nodes
# run as (the owner of this folder's keys).
version: "2.4"
services:
`)
	for i, c := range all {
		p := published[c]
		role := "founding member, registry voter"
		switch {
		case i >= len(o.Founders):
			role = "admitted later (crvsx devnet admit): joins the registry as a non-voter"
		case i >= 3:
			role = "founding member, registry non-voter"
		}
		fmt.Fprintf(&y, `  %s:
    # %s, %s: %s
    image: ${CRVSX_IMAGE:-%s}
    user: "${CRVSX_UID:-%d}:${CRVSX_GID:-%d}"
    command: ["node", "--config", "/srv/crvsx/node/node.json", "--log-format", "json"]
    volumes:
      - ./%s:/srv/crvsx/node
      - ./genesis.json:/srv/crvsx/genesis.json:ro
      - ./endorsements.json:/srv/crvsx/endorsements.json:ro
    networks:
      crvsx:
        ipv4_address: %s
    ports:
      - "%s:%s"   # local API (the national system)
      - "%s:%s"   # admin API (operators; the registry API)
      - "%s:%s"   # /livez, /readyz, /metrics
      - "%s:%s"   # peer API (mutual TLS, pinned keys)
    restart: unless-stopped
    stop_grace_period: 30s
`, strings.ToLower(c), c, NodeIDs[c], role, o.Image, o.UID, o.GID, c, addr(i),
			p.Local, cLocal, p.Admin, cAdmin, p.Health, cHealth, p.Peer, cPeer)
	}
	fmt.Fprintf(&y, `networks:
  crvsx:
    driver: bridge
    ipam:
      config:
        - subnet: %s
`, o.Subnet)
	env := fmt.Sprintf("CRVSX_IMAGE=%s\nCRVSX_UID=%d\nCRVSX_GID=%d\n", o.Image, o.UID, o.GID)
	if err := scaffold.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(y.String()), 0o644); err != nil {
		return nil, err
	}
	if err := scaffold.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o644); err != nil {
		return nil, err
	}
	return &mf, nil
}
