package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/spf13/cobra"

	rec "github.com/ecrn/crvsx/node/records"
)

// recordsBatchLines is how many lines `crvsx records import` sends at once
// by default.
const recordsBatchLines = 1000

func newRecordsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "records",
		Short:   "Manage a node's person records (the embedded records backend)",
		Example: `  crvsx records import --node http://127.0.0.1:8080 --token-file tokens registry.jsonl`,
	}
	cmd.AddCommand(newRecordsImportCmd(e))
	return cmd
}

func newRecordsImportCmd(e *env) *cobra.Command {
	var (
		lf    localFlags
		batch int
	)
	cmd := &cobra.Command{
		Use:   "import --node URL --token-file FILE [--batch N] FILE.jsonl",
		Short: "Import person records (JSONL, one record a line) into a node",
		Long: `Send a JSONL file of person records (node/records/README.md) to a node's
POST /v1/records in batches, printing a progress line per batch on stderr
and the summary as JSON on stdout. Records are upserted by recordId; a
line is applied whole or not at all, and its errors are listed with the
line number in FILE. Importing the same file again changes nothing.
Exit 1 when any line was rejected (the other lines are applied).`,
		Example: `  crvsx records import --node http://127.0.0.1:8080 --token-file tokens registry.jsonl`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if batch < 1 || batch > rec.MaxRequestLines {
				return fmt.Errorf("--batch %d: want 1…%d", batch, rec.MaxRequestLines)
			}
			lc, err := lf.client()
			if err != nil {
				return err
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			c := &rec.Client{BaseURL: lc.BaseURL, Token: lc.Token, HTTP: &http.Client{Timeout: lf.timeout}}
			batches, local := splitBatches(data, batch)
			total := rec.Report{Errors: []rec.LineError{}}
			for _, le := range local {
				total.Lines++
				addError(&total, le)
			}
			for k, b := range batches {
				rep, err := c.Import(cmd.Context(), b.body)
				if err != nil {
					fmt.Fprintf(e.stderr, "batch %d/%d (lines %d…): failed; the earlier batches are applied\n", k+1, len(batches), b.first)
					return err
				}
				fmt.Fprintf(e.stderr, "batch %d/%d: %d lines, %d created, %d updated, %d unchanged, %d rejected\n",
					k+1, len(batches), rep.Lines, rep.Created, rep.Updated, rep.Unchanged, rep.Rejected)
				total.Lines += rep.Lines
				total.Created += rep.Created
				total.Updated += rep.Updated
				total.Unchanged += rep.Unchanged
				total.ErrorsOmitted += rep.ErrorsOmitted
				total.Rejected += rep.ErrorsOmitted
				for _, le := range rep.Errors {
					le.Line += b.first - 1 // the line in FILE
					addError(&total, le)
				}
			}
			for _, le := range total.Errors {
				fmt.Fprintf(e.stderr, "line %d: %s %s: %s\n", le.Line, le.Code, le.Pointer, le.Message)
			}
			if err := e.printJSON(total); err != nil {
				return err
			}
			if total.Rejected > 0 {
				return invalid(errors.New("some lines were rejected"))
			}
			return nil
		},
	}
	lf.add(cmd)
	cmd.Flags().IntVar(&batch, "batch", recordsBatchLines, "lines per request")
	return cmd
}

func addError(rep *rec.Report, le rec.LineError) {
	rep.Rejected++
	if len(rep.Errors) < rec.MaxErrors {
		rep.Errors = append(rep.Errors, le)
	} else {
		rep.ErrorsOmitted++
	}
}

type recordsBatch struct {
	first int // the FILE line number of the batch's first line
	body  []byte
}

// splitBatches cuts data into batches of at most n lines and
// rec.MaxRequestBytes bytes, keeping line numbers (blank lines stay in
// the batch so that the node's numbers map back). A line over
// rec.MaxLineBytes is not sent: it is a local error.
func splitBatches(data []byte, n int) ([]recordsBatch, []rec.LineError) {
	var out []recordsBatch
	var local []rec.LineError
	var cur bytes.Buffer
	first, count, lineNo := 1, 0, 0
	flush := func(next int) {
		if cur.Len() > 0 {
			out = append(out, recordsBatch{first: first, body: bytes.Clone(cur.Bytes())})
		}
		cur.Reset()
		first, count = next, 0
	}
	for line := range bytes.Lines(data) {
		line = bytes.TrimSuffix(line, []byte("\n"))
		lineNo++
		if len(line) > rec.MaxLineBytes {
			local = append(local, rec.LineError{Line: lineNo, Code: rec.CodeLineTooLarge,
				Message: fmt.Sprintf("the line has %d bytes, at most %d", len(line), rec.MaxLineBytes)})
			line = nil // kept as a blank line: the numbering holds
		}
		if count == n || cur.Len()+len(line)+1 > rec.MaxRequestBytes {
			flush(lineNo)
		}
		if cur.Len() == 0 {
			first = lineNo
		}
		cur.Write(line)
		cur.WriteByte('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			count++
		}
	}
	flush(lineNo + 1)
	return out, local
}
