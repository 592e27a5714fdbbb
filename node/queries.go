package node

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ecrn/crvsx/node/query"
	"github.com/ecrn/crvsx/node/records"
	"github.com/ecrn/crvsx/node/records/match"
)

// openQueries builds POST /v1/queries (protocol/SPEC.md §11.2, node/query)
// over the registry's requester view, the records backend and the store.
func (n *Node) openQueries() error {
	qc := n.cfg.Queries
	keyFile := qc.AuditKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(n.cfg.DataDir, "query-audit.key")
	}
	key, err := query.LoadOrCreateAuditKey(keyFile)
	if err != nil {
		return err
	}
	authority := qc.Authority
	if authority == "" {
		authority = "Civil registration authority of " + n.cfg.Member
	}
	h, err := query.New(query.Config{NodeID: n.cfg.NodeID, Member: n.cfg.Member, Authority: authority,
		Validity: time.Duration(qc.Validity), Skew: time.Duration(n.cfg.Exchange.ClockSkew), MaxAge: time.Duration(n.cfg.Exchange.MaxAge),
		MaxBytes: n.cfg.Exchange.MaxMessageBytes, RefuseProbing: qc.RefuseProbing},
		query.Deps{
			Fresh:    n.reg.Fresh,
			Registry: query.FromView(n.reg.View),
			Records:  recordStatus{n.records},
			Store:    n.store,
			Signer:   n.Signer,
			AuditKey: key,
			Metrics:  n.metrics.Queries(),
			Log:      n.outside.With("part", "queries"),
			Now:      n.now,
		})
	if err != nil {
		return fmt.Errorf("queries: %w", err)
	}
	n.queries = h
	return nil
}

// recordStatus is the records backend as node/query sees it: the matching
// core's decision over the backend's candidates and, on a unique match,
// the answers to the questions asked, keyed by question.
type recordStatus struct{ src records.Source }

func (r recordStatus) Status(ctx context.Context, s match.Subject, questions []string) (match.Outcome, map[string]string, bool, error) {
	res, facts, err := records.Lookup(ctx, r.src, s)
	if err != nil {
		return "", nil, false, err
	}
	if res.Outcome != match.UniqueMatch {
		return res.Outcome, nil, false, nil
	}
	answers := make(map[string]string, len(questions))
	for _, q := range questions {
		if v, ok := records.AnswerTo(facts, q); ok {
			answers[q] = v
		}
	}
	return res.Outcome, answers, facts.Protected(), nil
}
