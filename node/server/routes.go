package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/ecrn/crvsx/node/internal/httpio"
	"github.com/ecrn/crvsx/protocol"
)

// AdminStore is what the admin API needs of the node's store.
type AdminStore interface {
	// Backup writes a consistent copy of the store to w while it runs.
	Backup(ctx context.Context, w io.Writer) (int64, error)
	// VerifyAudit checks the audit chain and returns its head and length.
	VerifyAudit(ctx context.Context) (head [32]byte, n uint64, err error)
}

// Routes are the handlers of a node's four listeners, each with its
// authentication: the peer API (messages from other members over pinned
// mTLS, and the registry API), the local API (the national system, bearer
// tokens), the admin API (operators' own bearer tokens) and the health
// listener (no authentication). Every unknown route is a NOT_FOUND problem.
// The node fills in the fields; the handlers hold no state of their own.
type Routes struct {
	Exchange *Exchange
	// Registry is the registry API, mounted under /v1/registry/ on the
	// peer listener; its peer endpoints check the client key themselves.
	Registry http.Handler
	// Queries, if not nil, is POST /v1/queries (node/query, SPEC §11.2):
	// it checks the mTLS client key against the query's requester itself;
	// a member node's key is no requester's (NODE_PIN_MISMATCH), and the
	// other routes keep refusing requesters (Peers knows nodes only).
	Queries http.Handler
	// Peers resolves the mTLS client of POST /v1/messages.
	Peers PeerLookup
	// Accepted, if not nil, is called after each POST /v1/messages (it
	// wakes the webhook pusher).
	Accepted func()
	// LocalTokens are the national system's, AdminTokens the operators'.
	LocalTokens, AdminTokens *Tokens
	Store                    AdminStore // the admin API's backup and audit
	// Records, if not nil, is POST /v1/records on the local API (the
	// embedded records backend's JSONL import, node/records).
	Records http.Handler
	// Live is nil while the node can do its work; Ready returns the
	// readiness report and whether the node is ready.
	Live  func() error
	Ready func() (report any, ready bool)
	// Refresh, if not nil, brings the gauges up to date before each
	// scrape of /metrics, so that a scrape never reports an older state
	// than /readyz does at the same moment.
	Refresh func(ctx context.Context)
	Metrics *Metrics
	Log     *slog.Logger
	// Console, if not nil, is the web console (node/console): mounted at
	// /console/ on the admin listener without the bearer check (it has its
	// own login with the admin tokens); ConsolePublic, if not nil, is its
	// public part (verify, bundle), mounted at /console/ on the health
	// listener (node/console DESIGN §1).
	Console, ConsolePublic http.Handler
}

func (rt *Routes) notFound(w http.ResponseWriter, r *http.Request) {
	httpio.WriteProblem(w, r, rt.Log, httpio.NotFound(r))
}

func (rt *Routes) unauthorized(w http.ResponseWriter, r *http.Request) {
	httpio.WriteProblem(w, r, rt.Log, &protocol.Error{Code: protocol.CodeUnauthorized, Detail: "a valid bearer token is required"})
}

// Peer is the peer API (SPEC §8.1): POST /v1/messages from a registered
// node of an active member, and the registry API.
func (rt *Routes) Peer() http.Handler {
	mux := http.NewServeMux()
	refuse := func(w http.ResponseWriter, r *http.Request, err error) {
		httpio.WriteProblem(w, r, rt.Log, &protocol.Error{Code: protocol.CodeNodePinMismatch, Detail: "the TLS client key is not registered for a node of an active member", Err: err})
	}
	post := http.HandlerFunc(rt.Exchange.PostMessage)
	if rt.Accepted != nil {
		post = func(w http.ResponseWriter, r *http.Request) {
			rt.Exchange.PostMessage(w, r)
			rt.Accepted()
		}
	}
	mux.Handle("POST /v1/messages", WithPeer(rt.Peers, post, refuse))
	if rt.Queries != nil {
		mux.Handle("POST /v1/queries", rt.Queries)
	}
	mux.Handle("/v1/registry/", rt.Registry)
	mux.HandleFunc("/", rt.notFound)
	return mux
}

// Local is the national system's API (node/exchange DESIGN §3, §6).
func (rt *Routes) Local() http.Handler {
	x := rt.Exchange
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/outbox", x.PostOutbox)
	mux.HandleFunc("GET /v1/outbox/{id}", x.GetOutbox)
	mux.HandleFunc("GET /v1/inbox", x.GetInbox)
	mux.HandleFunc("POST /v1/inbox/ack", x.PostAck)
	if rt.Records != nil {
		mux.Handle("POST /v1/records", rt.Records)
	}
	mux.HandleFunc("/", rt.notFound)
	return RequireBearer(rt.LocalTokens, mux, rt.unauthorized)
}

// Admin is the operators' API: a consistent backup while running, the
// audit chain's head, and the registry API.
func (rt *Routes) Admin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/admin/backup", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="node.db"`)
		if _, err := rt.Store.Backup(r.Context(), w); err != nil {
			rt.Log.Error("backup failed", slog.Any("err", err))
			panic(http.ErrAbortHandler) // the client sees a truncated body, never a backup that looks whole
		}
	})
	mux.HandleFunc("GET /v1/admin/audit", func(w http.ResponseWriter, r *http.Request) {
		head, count, err := rt.Store.VerifyAudit(r.Context())
		if err != nil {
			httpio.WriteProblem(w, r, rt.Log, err)
			return
		}
		httpio.WriteJSON(w, http.StatusOK, "application/json", map[string]any{"head": fmt.Sprintf("%x", head), "entries": count, "verified": true})
	})
	// The registry API again, for operators on the node's host: the
	// crvsx registry commands with --token-file (the peer listener serves
	// it to anyone who pins the node's key).
	mux.Handle("/v1/registry/", rt.Registry)
	mux.HandleFunc("/", rt.notFound)
	api := RequireBearer(rt.AdminTokens, mux, rt.unauthorized)
	if rt.Console == nil {
		return api
	}
	outer := http.NewServeMux()
	outer.Handle("/console/", rt.Console)
	outer.Handle("/", api)
	return outer
}

// Health is the health listener: /livez, /readyz and /metrics.
func (rt *Routes) Health() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) {
		if err := rt.Live(); err != nil {
			http.Error(w, "store failed: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		report, ready := rt.Ready()
		status := http.StatusOK
		if !ready {
			status = http.StatusServiceUnavailable
		}
		httpio.WriteJSON(w, status, "application/json", report)
	})
	metrics := rt.Metrics.Handler()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		if rt.Refresh != nil {
			rt.Refresh(r.Context())
		}
		metrics.ServeHTTP(w, r)
	})
	if rt.ConsolePublic != nil {
		mux.Handle("/console/", rt.ConsolePublic)
	}
	mux.HandleFunc("/", rt.notFound)
	return mux
}
