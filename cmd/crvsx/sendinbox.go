package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ecrn/crvsx/node/server"
	"github.com/spf13/cobra"
)

// localFlags are the flags of the commands that talk to a node's local API.
type localFlags struct {
	url, tokenFile string
	timeout        time.Duration
}

func (f *localFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.url, "node", "", "the node's local API base URL, e.g. http://127.0.0.1:8080 (required)")
	cmd.Flags().StringVar(&f.tokenFile, "token-file", "", "a file with the bearer token (\"name token\" lines, or the token alone)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 30*time.Second, "time limit of each request to the node")
}

func (f *localFlags) client() (*server.LocalClient, error) {
	u, err := nodeURL("node", f.url)
	if err != nil {
		return nil, err
	}
	if f.tokenFile == "" {
		return nil, errors.New("--token-file FILE is required (tokens never go on the command line)")
	}
	if f.timeout <= 0 {
		return nil, errors.New("--timeout must be positive")
	}
	tok, err := firstToken(f.tokenFile)
	if err != nil {
		return nil, err
	}
	return &server.LocalClient{BaseURL: u, Token: tok, HTTP: &http.Client{Timeout: f.timeout}}, nil
}

func newSendCmd(e *env) *cobra.Command {
	var (
		lf         localFlags
		recipients string
		id         string
		wait       time.Duration
	)
	cmd := &cobra.Command{
		Use:   "send --node URL --token-file FILE [--to TJ,KZ] [--id UUID] [--wait D] FILE|-",
		Short: "Submit a message to a node's outbox (the national system's side)",
		Long: `Submit a message (the JSON of a vital event) to a node's outbox. The node
validates it, works out the recipients (or takes --to), signs one message
per recipient, stores them durably and delivers them with retries. The
answer (per-recipient status) is printed as JSON. --id makes the submission
idempotent: the same id again returns the stored submission. --wait follows
the submission until every recipient has a receipt or the time is up
(exit 1 if not all were delivered).`,
		Example: `  crvsx send --node http://127.0.0.1:8080 --token-file tokens birth.json
  crvsx send --node http://127.0.0.1:8080 --token-file tokens --to TJ --wait 30s birth.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := lf.client()
			if err != nil {
				return err
			}
			msg, err := e.readMessage(args[0])
			if err != nil {
				return err
			}
			var to []string
			for _, r := range strings.Split(recipients, ",") {
				if r = strings.TrimSpace(r); r != "" {
					to = append(to, r)
				}
			}
			v, err := c.Submit(cmd.Context(), msg, to, id)
			if err != nil {
				return err
			}
			if wait > 0 {
				deadline := time.Now().Add(wait)
				for !allDone(v) && time.Now().Before(deadline) {
					time.Sleep(200 * time.Millisecond)
					if v, err = c.Submission(cmd.Context(), v.ID); err != nil {
						return err
					}
				}
			}
			if err := e.printJSON(v); err != nil {
				return err
			}
			if wait > 0 && !allDelivered(v) {
				return &exitError{code: exitInvalid, err: errors.New("not every recipient has a receipt yet")}
			}
			return nil
		},
	}
	lf.add(cmd)
	cmd.Flags().StringVar(&recipients, "to", "", "recipients' country codes (default: the routing rules decide)")
	cmd.Flags().StringVar(&id, "id", "", "idempotency id of the submission (a lowercase UUID)")
	cmd.Flags().DurationVar(&wait, "wait", 0, "wait up to this long for every receipt")
	return cmd
}

func allDone(v *server.SubmissionView) bool {
	for _, d := range v.Deliveries {
		if d.Status == "pending" {
			return false
		}
	}
	return true
}

func allDelivered(v *server.SubmissionView) bool {
	for _, d := range v.Deliveries {
		if d.Status != "delivered" {
			return false
		}
	}
	return true
}

func newInboxCmd(e *env) *cobra.Command {
	var (
		lf    localFlags
		after uint64
		limit int
		ack   bool
	)
	cmd := &cobra.Command{
		Use:   "inbox --node URL --token-file FILE [--after N] [--limit N] [--ack]",
		Short: "Read the messages a node received (the national system's side)",
		Long: `Read received, verified messages from a node's inbox in the order they were
accepted (so in order per sender), as JSON lines:
{"seq", "sender", "messageId", "messageType", "receivedAt", "sha256", "message"}.

The read starts after the national system's acknowledged cursor, which the
node keeps; --after N starts after N instead (--after 0 reads everything
again). --ack acknowledges what was read, so that the next read starts
after it; without --ack the cursor does not move and the next read returns
the same records again (at-least-once).`,
		Example: `  crvsx inbox --node http://127.0.0.1:8080 --token-file tokens --ack
  crvsx inbox --node http://127.0.0.1:8080 --token-file tokens --after 0 --limit 10`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := lf.client()
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("after") {
				// The answer of every read names the acknowledged cursor:
				// a read of one record learns it.
				p, err := c.Inbox(cmd.Context(), 0, 1)
				if err != nil {
					return err
				}
				after = p.Acked
			}
			p, err := c.Inbox(cmd.Context(), after, limit)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(e.stdout)
			enc.SetEscapeHTML(false)
			for _, r := range p.Records {
				line := map[string]any{"seq": r.Seq, "sender": r.Sender, "messageId": r.MessageID, "messageType": r.MessageType,
					"receivedAt": r.ReceivedAt, "sha256": r.SHA256, "message": json.RawMessage(r.Message)}
				if err := enc.Encode(line); err != nil {
					return err
				}
			}
			acked := p.Acked
			if ack && len(p.Records) > 0 && p.Next > acked {
				if err := c.Ack(cmd.Context(), p.Next); err != nil {
					return err
				}
				acked = p.Next
			}
			fmt.Fprintf(e.stderr, "%d records after %d, next cursor %d, acknowledged up to %d\n", len(p.Records), after, p.Next, acked)
			return nil
		},
	}
	lf.add(cmd)
	cmd.Flags().Uint64Var(&after, "after", 0, "read records after this sequence number (default: after the acknowledged cursor)")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many records (1…1000)")
	cmd.Flags().BoolVar(&ack, "ack", false, "acknowledge the records read")
	return cmd
}
