package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/schemas"
	"github.com/spf13/cobra"
)

func newSchemasCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "schemas",
		Short: "List the embedded schemas and validate documents against them",
		Example: `  crvsx schemas list
  crvsx schemas validate birth.json`,
	}
	c.AddCommand(newSchemasListCmd(e), newSchemasValidateCmd(e))
	return c
}

func newSchemasListCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the embedded schema bundles and their schemas",
		Example: `  crvsx schemas list
  crvsx schemas list --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			infos := schemas.Default().Schemas()
			if asJSON {
				return e.printJSON(infos)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tNAME\tID")
			for _, s := range infos {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Version, s.Name, s.ID)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

type validateReport struct {
	File          string           `json:"file"`
	Valid         bool             `json:"valid"`
	SchemaVersion string           `json:"schemaVersion,omitempty"`
	MessageType   string           `json:"messageType,omitempty"`
	Code          protocol.Code    `json:"code,omitempty"`
	Issues        []protocol.Issue `json:"issues,omitempty"`
	Warnings      []protocol.Issue `json:"warnings,omitempty"`
}

func newSchemasValidateCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Validate message documents against the schemas and the semantic rules",
		Long: `Validate each FILE (a message's JSON, "-" for stdin) against the schema
bundle it names in schemaVersion and the semantic rules, as a node does after
verifying the signature.

Every finding is printed as "FILE: CODE POINTER MESSAGE" on stdout, one line
per issue; warnings are printed the same way but do not make a file invalid. Exit 0 when every file
is valid, 1 otherwise. --json prints one report per file instead.`,
		Example: `  crvsx schemas validate schemas/testdata/valid/*.json
  crvsx schemas validate --json birth.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v := schemas.Default()
			var reports []validateReport
			bad := 0
			for _, name := range args {
				r := validateReport{File: name}
				raw, err := e.readInput(name, maxInputBytes)
				if err == nil {
					var res *schemas.Result
					res, err = v.Validate(raw)
					if err == nil {
						r.Valid = true
						r.SchemaVersion, r.MessageType, r.Warnings = res.SchemaVersion, res.MessageType, res.Warnings
					}
				}
				if err != nil {
					bad++
					r.Code = protocol.CodeOf(err)
					if pe, ok := err.(*protocol.Error); ok {
						// A refusal of the whole message (UNSUPPORTED_SCHEMA_VERSION,
						// UNKNOWN_MESSAGE_TYPE, PAYLOAD_*) is itself the first issue;
						// SCHEMA_/SEMANTIC_VALIDATION_FAILED are summed up by theirs.
						if (pe.Code != protocol.CodeSchemaInvalid && pe.Code != protocol.CodeSemanticInvalid) || len(pe.Issues) == 0 {
							r.Issues = append(r.Issues, protocol.Issue{Severity: protocol.SeverityError, Code: string(pe.Code), Pointer: pe.Pointer, Message: pe.Detail})
						}
						r.Issues = append(r.Issues, pe.Issues...)
					} else {
						r.Issues = []protocol.Issue{{Severity: protocol.SeverityError, Code: "UNREADABLE", Message: err.Error()}}
					}
				}
				if !asJSON {
					for _, is := range append(r.Issues, r.Warnings...) {
						fmt.Fprintf(e.stdout, "%s: %s\n", name, is)
					}
				}
				reports = append(reports, r)
			}
			if asJSON {
				if err := e.printJSON(reports); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(e.stderr, "%d valid, %d invalid\n", len(args)-bad, bad)
			}
			if bad > 0 {
				return invalid(fmt.Errorf("%d of %d documents are not valid", bad, len(args)))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON report per file")
	return cmd
}
