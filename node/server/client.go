package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ecrn/crvsx/protocol"
)

// LocalClient is a client of a node's local API (the national system's
// side): submit to the outbox, follow a submission, pull and acknowledge
// the inbox. `crvsx send`, `crvsx inbox` and the devnet demo use it.
type LocalClient struct {
	BaseURL string
	Token   string
	HTTP    *http.Client // nil: a client with a 30 s timeout
}

func (c *LocalClient) client() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func (c *LocalClient) do(ctx context.Context, method, path, ctype string, body []byte, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.client().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 400 {
		return resp.StatusCode, protocol.DecodeProblem(c.BaseURL, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// Submit posts an outbox request: the message and, optionally, its
// recipients and an idempotency id.
func (c *LocalClient) Submit(ctx context.Context, message []byte, recipients []string, id string) (*SubmissionView, error) {
	m := map[string]any{"message": json.RawMessage(message)}
	if len(recipients) > 0 {
		m["recipients"] = recipients
	}
	if id != "" {
		m["id"] = id
	}
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var v SubmissionView
	if _, err := c.do(ctx, http.MethodPost, "/v1/outbox", "application/json", body, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Submission reads a submission's status.
func (c *LocalClient) Submission(ctx context.Context, id string) (*SubmissionView, error) {
	var v SubmissionView
	if _, err := c.do(ctx, http.MethodGet, "/v1/outbox/"+id, "", nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Inbox reads up to limit records after the cursor.
func (c *LocalClient) Inbox(ctx context.Context, after uint64, limit int) (*InboxPage, error) {
	var p InboxPage
	path := "/v1/inbox?after=" + strconv.FormatUint(after, 10) + "&limit=" + strconv.Itoa(limit)
	if _, err := c.do(ctx, http.MethodGet, path, "", nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Ack acknowledges the inbox up to seq.
func (c *LocalClient) Ack(ctx context.Context, upTo uint64) error {
	b, _ := json.Marshal(AckRequest{UpTo: upTo})
	_, err := c.do(ctx, http.MethodPost, "/v1/inbox/ack", "application/json", b, nil)
	return err
}
