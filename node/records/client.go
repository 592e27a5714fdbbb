package records

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ecrn/crvsx/protocol"
)

// Client posts JSONL batches to a node's POST /v1/records (`crvsx records
// import`).
type Client struct {
	BaseURL string
	Token   string
	HTTP    *http.Client // nil: http.DefaultClient
}

// Import sends one batch and returns the node's report. A problem answer
// is a *protocol.ProblemError.
func (c *Client) Import(ctx context.Context, batch []byte) (Report, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+"/v1/records", bytes.NewReader(batch))
	if err != nil {
		return Report{}, err
	}
	req.Header.Set("Content-Type", MediaType)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Report{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return Report{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return Report{}, protocolProblem(c.BaseURL, resp, b)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return Report{}, fmt.Errorf("POST /v1/records: the answer is not a report: %w", err)
	}
	return rep, nil
}

func protocolProblem(from string, resp *http.Response, body []byte) error {
	return protocol.DecodeProblem(from, resp.StatusCode, resp.Header.Get("Content-Type"), body)
}
