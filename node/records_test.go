package node_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ecrn/crvsx/node/records"
	"github.com/ecrn/crvsx/node/records/match"
	"github.com/ecrn/crvsx/protocol"
)

// TestRecordsOnTheLocalAPI: POST /v1/records on a running node imports a
// JSONL batch (bearer token; 413 before parsing; problem documents), the
// node's records backend answers Lookup from it, and a death event another
// member sends marks the uniquely matched record (node/records DESIGN R2,
// R4, R6).
func TestRecordsOnTheLocalAPI(t *testing.T) {
	ctx := context.Background()
	net := startNet(t, nil)
	tr := net.Members["TR"]
	c := &records.Client{BaseURL: tr.LocalURL(), Token: tr.Token}
	line := `{"recordId":"TR-NVI-000042","names":[{"fullName":"İbrahim Çağrı Yılmazoğlu","givenNames":"İbrahim Çağrı","familyName":"Yılmazoğlu","script":"Latn","language":"tr"}],` +
		`"birthDate":"1979-04-23","sex":1,"birthCountry":"TR","identifiers":[{"scheme":"TR-TCKN","value":"37259180498","issuingCountry":"TR"}],` +
		`"status":{"hasBirthRecord":"yes","deathRegistered":"no","civilStatus":"married","citizenshipConfirmed":"yes"}}`
	rep, err := c.Import(ctx, []byte(line+"\n{\"recordId\":\"bad\"}\n"))
	require.NoError(t, err)
	require.Equal(t, 2, rep.Lines)
	require.Equal(t, 1, rep.Created)
	require.Equal(t, 1, rep.Rejected)
	require.Equal(t, records.LineError{Line: 2, Pointer: "/names", Code: records.CodeMissingMember, Message: "names is required"}, rep.Errors[0])

	rep, err = c.Import(ctx, []byte(line+"\n"))
	require.NoError(t, err)
	require.Equal(t, 1, rep.Unchanged)

	_, err = (&records.Client{BaseURL: tr.LocalURL(), Token: "wrong-token-wrong-token-wrong-token"}).Import(ctx, []byte(line))
	var pe *protocol.ProblemError
	require.True(t, errors.As(err, &pe), "%v", err)
	require.Equal(t, protocol.CodeUnauthorized, pe.Problem.Code)

	_, err = c.Import(ctx, []byte(strings.Repeat(" ", records.MaxRequestBytes+1)))
	require.True(t, errors.As(err, &pe), "%v", err)
	require.Equal(t, http.StatusRequestEntityTooLarge, pe.Status)
	require.Equal(t, protocol.CodeTooLarge, pe.Problem.Code)

	// Lookup by the TCKN alone, through the node's own backend.
	src := tr.Node().Records()
	subject := match.Subject{Identifiers: []match.Identifier{{Scheme: "TR-TCKN", Value: "37259180498", Country: "TR"}}}
	res, f, err := records.Lookup(ctx, src, subject)
	require.NoError(t, err)
	require.Equal(t, match.UniqueMatch, res.Outcome)
	require.Equal(t, records.No, f.DeathRegistered)

	// KZ registers his death in Almaty and notifies TR.
	kz := client(net.Members["KZ"])
	sub, err := kz.Submit(ctx, template(t, "death-turkish-citizen-in-almaty.json"), []string{"TR"}, "")
	require.NoError(t, err)
	waitDelivered(t, kz, sub.ID)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, f, err = records.Lookup(ctx, src, subject)
		require.NoError(t, err)
		if f.DeathRegistered == records.Yes || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(t, map[string]string{"vitalStatus": "death-registered", "civilStatus": "married"}, records.Answer(f, []string{"vital-status", "civil-status"}))
}
