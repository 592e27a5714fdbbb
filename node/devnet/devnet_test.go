package devnet_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/devnet"
	"github.com/ecrn/crvsx/node/server"
	"github.com/stretchr/testify/require"
)

func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	n, err := devnet.Open(t.TempDir(), devnet.Options{Fast: true}, log)
	require.NoError(t, err)
	require.NoError(t, n.Start(ctx))
	defer n.Stop()
	msg, err := os.ReadFile("../../schemas/testdata/valid/live-birth-tajik-child-in-istanbul.json")
	require.NoError(t, err)
	tr := n.Members["TR"]
	c := &server.LocalClient{BaseURL: tr.LocalURL(), Token: tr.Token}
	sub, err := c.Submit(ctx, msg, nil, "")
	require.NoError(t, err)
	t.Logf("%+v", sub)
	tj := n.Members["TJ"]
	tc := &server.LocalClient{BaseURL: tj.LocalURL(), Token: tj.Token}
	for {
		p, err := tc.Inbox(ctx, 0, 10)
		require.NoError(t, err)
		if len(p.Records) > 0 {
			t.Logf("TJ got %s %s", p.Records[0].MessageType, p.Records[0].MessageID)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	s2, err := c.Submission(ctx, sub.ID)
	require.NoError(t, err)
	t.Logf("%+v", s2.Deliveries[0].Status)
}
