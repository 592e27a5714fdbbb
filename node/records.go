package node

import (
	"bytes"
	"time"

	"github.com/ecrn/crvsx/node/records"
)

// openRecords builds the records backend the configuration names
// (node/records DESIGN R3, R7): the embedded store with its event follower,
// or the national system's HTTP adapter.
func (n *Node) openRecords() error {
	rc := n.cfg.Records
	if rc.Backend == "http" {
		tok, err := readSecret(rc.TokenFile)
		if err != nil {
			return err
		}
		n.records = &records.HTTPSource{URL: rc.URL, Token: string(bytes.TrimSpace(tok)), Timeout: time.Duration(rc.Timeout)}
		return nil
	}
	n.embedded = &records.Embedded{Store: n.store, Log: n.log.With("part", "records")}
	n.records = n.embedded
	n.follower = &records.Follower{Records: n.embedded, Inbox: n.inbox(), Store: n.store, Log: n.log.With("part", "records-events"),
		Count: func(outcome string) { n.metrics.RecordEvents.WithLabelValues(outcome).Inc() }}
	n.follower.Init()
	return nil
}

// Records is the node's records backend: what status queries are matched
// against (records.Lookup).
func (n *Node) Records() records.Source { return n.records }
