package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ecrn/crvsx/protocol"
)

// Config is a member node's configuration, loaded from one JSON file
// (LoadConfig). Secrets are never in it: it names the files that hold them.
// Relative paths are relative to the directory of the configuration file.
type Config struct {
	// NodeID is this node's id as registered (SPEC §2), e.g. TJ-MOJ-CRVS.
	NodeID string `json:"nodeId"`
	// Member is this node's member, the country code its keys belong to.
	Member string `json:"member"`
	// DataDir holds the store (node.db) and the registry replica
	// (registry/). Created 0700 if missing.
	DataDir string `json:"dataDir"`

	Listen   Listen   `json:"listen"`
	Keys     Keys     `json:"keys"`
	Registry Registry `json:"registry"`
	Exchange Exchange `json:"exchange"`
	Local    Local    `json:"local"`
	Admin    Admin    `json:"admin"`
	Webhook  Webhook  `json:"webhook"`
	Records  Records  `json:"records"`
	Queries  Queries  `json:"queries,omitzero"`
	Console  Console  `json:"console,omitzero"`

	// LogLevel is debug, info, warn or error.
	LogLevel string `json:"logLevel"`
}

// Listen names the listeners' addresses (host:port). The peer API (and
// Raft) use mutual TLS with node keys pinned in the registry. The local API
// (the national system's, bearer tokens), the admin API (operators, their
// own bearer tokens) and health (/livez, /readyz, /metrics) are plain HTTP:
// bind them to loopback, or put a TLS-terminating proxy in front and set
// AllowRemotePlaintext — tokens and personal data must not cross a network
// in the clear.
type Listen struct {
	Peer   string `json:"peer"`
	Local  string `json:"local"`
	Admin  string `json:"admin"`
	Health string `json:"health"`
	// Raft is the registry replica's Raft address (pinned mutual TLS).
	Raft string `json:"raft"`
	// RaftAdvertise is the Raft address registered for this node (genesis
	// or node.register), which the other replicas dial and Raft records as
	// this server's — needed when Raft binds every interface (0.0.0.0:7000,
	// a container or a pod). Empty means: the registered address of a
	// founding node, or Raft itself when it names one address.
	RaftAdvertise string `json:"raftAdvertise,omitempty"`
	// AllowRemotePlaintext lets the local and admin listeners bind to a
	// non-loopback address (behind a TLS-terminating proxy).
	AllowRemotePlaintext bool `json:"allowRemotePlaintext,omitempty"`
}

// Keys names the node's key files.
type Keys struct {
	// SigningKey is the member's private signing JWK (mode 0600), which
	// signs outbound messages and receipts.
	SigningKey string `json:"signingKey"`
	// TLSCert and TLSKey are the node's TLS key (PEM) whose SPKI pin is
	// registered for the node.
	TLSCert string `json:"tlsCert"`
	TLSKey  string `json:"tlsKey"`
}

// Registry configures the registry replica.
type Registry struct {
	// Genesis and Endorsements are the genesis files; GenesisSHA256 is the
	// pin (the only thing trusted by configuration).
	Genesis       string `json:"genesis"`
	Endorsements  string `json:"endorsements"`
	GenesisSHA256 string `json:"genesisSha256"`
	// Timings; zero means the registry's WAN defaults.
	HeartbeatTimeout Duration `json:"heartbeatTimeout"`
	ElectionTimeout  Duration `json:"electionTimeout"`
	// MaxStaleness tightens the policy's staleness bound (never loosens it).
	MaxStaleness Duration `json:"maxStaleness"`
	// Join lists peer API URLs of running nodes that this node, when it is
	// not a founding node of the genesis, asks to add it to the registry
	// cluster as a non-voter (node/registry/DESIGN.md §13: a challenge signed with
	// the node's TLS key). The node must have been registered (node.register)
	// first; the contacted node must be one this node can verify — a
	// founding node, whose pin is in the genesis. Ignored for founding nodes
	// and once the node is in the cluster.
	Join []string `json:"join,omitempty"`
}

// Exchange configures the message pipelines.
type Exchange struct {
	MaxMessageBytes  int      `json:"maxMessageBytes"`
	ClockSkew        Duration `json:"clockSkew"`
	MaxAge           Duration `json:"maxAge"`
	DeliveryLifetime Duration `json:"deliveryLifetime"`
	BackoffBase      Duration `json:"backoffBase"`
	BackoffCap       Duration `json:"backoffCap"`
	BreakerFailures  int      `json:"breakerFailures"`
	BreakerCooldown  Duration `json:"breakerCooldown"`
	PeerTimeout      Duration `json:"peerTimeout"`
	// NoSync turns fsync off: for benchmarks and tests only, never in
	// production (a crash would lose acknowledged messages).
	NoSync bool `json:"noSync"`
}

// Local configures the national system's API.
type Local struct {
	// TokensFile holds one "name token" pair a line; tokens have at least
	// 32 characters.
	TokensFile string `json:"tokensFile"`
}

// Admin configures the operators' API (backup, audit).
type Admin struct {
	// TokensFile holds the operators' tokens, as Local.TokensFile: separate,
	// so that the national system's token cannot take a backup.
	TokensFile string `json:"tokensFile"`
}

// Webhook configures the push of received events to the national system.
type Webhook struct {
	URL        string `json:"url"`
	SecretFile string `json:"secretFile"`
}

// Records configures where the node's person records are (node/records
// DESIGN.md R3, R7): "embedded" (the default) keeps them in the node's
// store, imported with POST /v1/records and kept up to date by inbound
// events; "http" asks the national system at URL with the bearer token in
// TokenFile.
type Records struct {
	Backend   string   `json:"backend,omitempty"`
	URL       string   `json:"url,omitempty"`
	TokenFile string   `json:"tokenFile,omitempty"`
	Timeout   Duration `json:"timeout,omitempty"` // per request of the http backend; 0 means 5 s
}

// Queries configures the node's answers to status queries (POST
// /v1/queries, protocol/SPEC.md §11.2; node/query). Every field is
// optional.
type Queries struct {
	// Authority is the attestations' issuer.authority, the member's civil
	// registration authority as a person reads it ("Ministry of Justice of
	// the Republic of Tajikistan"); default "Civil registration authority
	// of <member>".
	Authority string `json:"authority,omitempty"`
	// Validity is validUntil − attestedAt; default 30 days (at most 366).
	Validity Duration `json:"validity,omitempty"`
	// RefuseProbing refuses (RATE_LIMITED) a query that raises a probing
	// signal; without it probing is counted and audited only.
	RefuseProbing bool `json:"refuseProbing,omitempty"`
	// AuditKeyFile holds the key of the audit chain's subject hashes (64
	// hex digits); created on first start; default DATADIR/query-audit.key.
	AuditKeyFile string `json:"auditKeyFile,omitempty"`
}

// Console configures the web console (node/console DESIGN §12).
type Console struct {
	// ShowPersonalData lets the console show free text that may carry
	// personal data: a dead letter's reason text and a refused message's
	// problem detail (a peer's words). Off by default: the console then
	// shows identifiers, types, times and problem codes only. No payload
	// is ever shown.
	ShowPersonalData bool `json:"showPersonalData,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("5m").
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"5m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// DefaultConfig returns the defaults: everything but the identity, the
// addresses and the files.
func DefaultConfig() Config {
	return Config{
		DataDir: "data",
		Listen: Listen{
			Peer:   "127.0.0.1:8443",
			Local:  "127.0.0.1:8080",
			Admin:  "127.0.0.1:8444",
			Health: "127.0.0.1:9090",
			Raft:   "127.0.0.1:7000",
		},
		Exchange: Exchange{
			MaxMessageBytes:  protocol.MaxMessageBytes,
			ClockSkew:        Duration(5 * time.Minute),
			MaxAge:           Duration(7 * 24 * time.Hour),
			DeliveryLifetime: Duration(72 * time.Hour),
			BackoffBase:      Duration(time.Second),
			BackoffCap:       Duration(5 * time.Minute),
			BreakerFailures:  5,
			BreakerCooldown:  Duration(30 * time.Second),
			PeerTimeout:      Duration(30 * time.Second),
		},
		LogLevel: "info",
	}
}

// ErrConfig is the family of configuration errors.
var ErrConfig = errors.New("invalid configuration")

var ()

// Validate reports every problem of c at once, each naming its field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	if !protocol.IsMemberNodeID(c.NodeID) {
		bad("nodeId", "%q is not a node id such as TJ-MOJ-CRVS", c.NodeID)
	}
	if !protocol.IsMemberID(c.Member) {
		bad("member", "%q is not an ISO 3166-1 alpha-2 code", c.Member)
	} else if !strings.HasPrefix(c.NodeID, c.Member+"-") {
		bad("nodeId", "%q does not belong to member %s", c.NodeID, c.Member)
	}
	if c.DataDir == "" {
		bad("dataDir", "required")
	}
	addrs := map[string]string{}
	for name, a := range map[string]string{"listen.peer": c.Listen.Peer, "listen.local": c.Listen.Local, "listen.admin": c.Listen.Admin, "listen.health": c.Listen.Health, "listen.raft": c.Listen.Raft} {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad(name, "%q is not host:port", a)
			continue
		}
		if other, dup := addrs[a]; dup && !strings.HasSuffix(a, ":0") {
			bad(name, "%s is also %s", a, other)
		}
		addrs[a] = name
	}
	for name, f := range map[string]string{"keys.signingKey": c.Keys.SigningKey, "keys.tlsCert": c.Keys.TLSCert, "keys.tlsKey": c.Keys.TLSKey,
		"registry.genesis": c.Registry.Genesis, "registry.endorsements": c.Registry.Endorsements, "local.tokensFile": c.Local.TokensFile,
		"admin.tokensFile": c.Admin.TokensFile} {
		if f == "" {
			bad(name, "required")
		}
	}
	if a := c.Listen.RaftAdvertise; a != "" {
		if host, port, err := net.SplitHostPort(a); err != nil || host == "" || port == "0" || isUnspecified(host) {
			bad("listen.raftAdvertise", "%q is not the host:port other replicas dial", a)
		}
	}
	if !c.Listen.AllowRemotePlaintext {
		for name, a := range map[string]string{"listen.local": c.Listen.Local, "listen.admin": c.Listen.Admin} {
			if host, _, err := net.SplitHostPort(a); err == nil && !isLoopback(host) {
				bad(name, "%s is not a loopback address: bearer tokens and personal data would cross the network in plain HTTP (set listen.allowRemotePlaintext behind a TLS proxy)", a)
			}
		}
	}
	if !protocol.IsSHA256Hex(c.Registry.GenesisSHA256) {
		bad("registry.genesisSha256", "must be the genesis SHA-256 as 64 lower-case hex digits")
	}
	x := c.Exchange
	if x.MaxMessageBytes < 1024 || x.MaxMessageBytes > protocol.MaxMessageBytes {
		bad("exchange.maxMessageBytes", "%d is outside 1024…%d (SPEC §5: lower limits only)", x.MaxMessageBytes, protocol.MaxMessageBytes)
	}
	if x.ClockSkew < 0 || time.Duration(x.ClockSkew) > time.Hour {
		bad("exchange.clockSkew", "%s is outside 0…1h", time.Duration(x.ClockSkew))
	}
	if x.MaxAge <= 0 {
		bad("exchange.maxAge", "must be positive")
	}
	if x.DeliveryLifetime <= 0 {
		bad("exchange.deliveryLifetime", "must be positive")
	}
	if x.BackoffBase <= 0 || x.BackoffCap < x.BackoffBase {
		bad("exchange.backoffBase", "need 0 < backoffBase ≤ backoffCap")
	}
	if x.BreakerFailures < 1 || x.BreakerCooldown <= 0 {
		bad("exchange.breakerFailures", "need ≥ 1 failures and a positive cool-down")
	}
	if x.PeerTimeout <= 0 {
		bad("exchange.peerTimeout", "must be positive")
	}
	if (c.Webhook.URL == "") != (c.Webhook.SecretFile == "") {
		bad("webhook", "url and secretFile go together")
	}
	switch r := c.Records; r.Backend {
	case "", "embedded":
		if r.URL != "" || r.TokenFile != "" {
			bad("records", "url and tokenFile are for backend \"http\"")
		}
	case "http":
		if u, err := url.Parse(r.URL); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
			bad("records.url", "%q is not an https URL (http only on loopback)", r.URL)
		}
		if r.TokenFile == "" {
			bad("records.tokenFile", "required with backend \"http\"")
		}
		if r.Timeout < 0 {
			bad("records.timeout", "must not be negative")
		}
	default:
		bad("records.backend", "%q is not embedded or http", r.Backend)
	}
	if v := time.Duration(c.Queries.Validity); v < 0 || v > 366*24*time.Hour {
		bad("queries.validity", "must be between 0 (the default, 30 days) and 366 days")
	}
	if len(c.Queries.Authority) > 200 {
		bad("queries.authority", "at most 200 bytes")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("logLevel", "%q is not debug, info, warn or error", c.LogLevel)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}

// maxConfigBytes bounds the configuration file.
const maxConfigBytes = 1 << 20

// LoadConfig reads a JSON configuration over DefaultConfig, refusing unknown
// fields, resolves relative paths against the file's directory, and
// validates it.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	if len(b) > maxConfigBytes {
		return Config{}, fmt.Errorf("%w: %s is larger than %d bytes", ErrConfig, path, maxConfigBytes)
	}
	c := DefaultConfig()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("%w: %s: %w", ErrConfig, path, err)
	}
	c.resolve(filepath.Dir(path))
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func (c *Config) resolve(base string) {
	for _, p := range []*string{&c.DataDir, &c.Keys.SigningKey, &c.Keys.TLSCert, &c.Keys.TLSKey, &c.Registry.Genesis,
		&c.Registry.Endorsements, &c.Local.TokensFile, &c.Admin.TokensFile, &c.Webhook.SecretFile, &c.Records.TokenFile, &c.Queries.AuditKeyFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isUnspecified reports whether host is 0.0.0.0 or :: (every interface).
func isUnspecified(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}
