package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	rec "github.com/ecrn/crvsx/node/records"
	"github.com/ecrn/crvsx/node/store"
)

// TestRecordsImport: `crvsx records import` sends the file in batches,
// prints a progress line per batch and the summary, maps the node's line
// numbers back to the file's, and exits 1 when a line was rejected; the
// same file again is all unchanged and exits 0 once fixed.
func TestRecordsImport(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), store.FileName), store.Options{NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer((&rec.Embedded{Store: st}).Handler(nil))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tok, []byte("national-system-token-national-system\n"), 0o600))

	var lines []string
	for i := range 5 {
		lines = append(lines, `{"recordId":"TJ-`+string(rune('0'+i))+`","names":[{"fullName":"Шарифзода Фирӯз","script":"Cyrl"}],"birthDate":"198`+string(rune('0'+i))+`"}`)
	}
	lines = append(lines[:3], append([]string{"", `{"recordId":"TJ-X"}`}, lines[3:]...)...) // line 4 blank, line 5 bad
	file := filepath.Join(dir, "records.jsonl")
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600))

	r := run(t, nil, "records", "import", "--node", srv.URL, "--token-file", tok, "--batch", "2", file)
	require.Equal(t, exitInvalid, r.code, r.stderr)
	require.Contains(t, r.stderr, "batch 1/3: 2 lines, 2 created")
	require.Contains(t, r.stderr, "batch 3/3:")
	require.Contains(t, r.stderr, "line 5: RECORD_MISSING_MEMBER /names")
	var sum rec.Report
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &sum))
	require.Equal(t, 6, sum.Lines)
	require.Equal(t, 5, sum.Created)
	require.Equal(t, 1, sum.Rejected)
	require.Equal(t, 5, sum.Errors[0].Line)

	fixed := strings.Replace(strings.Join(lines, "\n"), `{"recordId":"TJ-X"}`, "", 1)
	require.NoError(t, os.WriteFile(file, []byte(fixed), 0o600))
	r = run(t, nil, "records", "import", "--node", srv.URL, "--token-file", tok, file)
	require.Equal(t, exitOK, r.code, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &sum))
	require.Equal(t, rec.Report{Lines: 5, Unchanged: 5, Errors: []rec.LineError{}}, sum)

	r = run(t, nil, "records", "import", "--node", "http://127.0.0.1:1", "--token-file", tok, file)
	require.Equal(t, exitUnreachable, r.code, r.stderr)
}
