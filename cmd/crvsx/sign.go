package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/schemas"
	"github.com/spf13/cobra"
)

func newSignCmd(e *env) *cobra.Command {
	var keyFile, typ string
	cmd := &cobra.Command{
		Use:   "sign --key PRIVATE.jwk [--typ T] FILE|-",
		Short: "Validate a message and print it as a compact JWS",
		Long: `Validate a message (the JSON of protocol/SPEC.md §4) against the schemas and
the semantic rules, then sign it with a member's private key and print the
compact JWS on stdout, followed by a newline.

An invalid message is never signed: its issues are printed as
"FILE: CODE POINTER MESSAGE" and the exit code is 1. The message's
sender.country must be the key's member. The signed payload is the
validated message, normalised to Unicode NFC and written as compact JSON.
The typ defaults to the one that carries the message's type
(crvs-event+jws for events and cancellations); --typ may only confirm it.`,
		Example: `  crvsx sign --key keys/TJ_abc.private.jwk birth.json > birth.jws`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			signer, err := e.readSigner(keyFile)
			if err != nil {
				return err
			}
			raw, err := e.readInput(args[0], maxInputBytes)
			if err != nil {
				return err
			}
			res, err := schemas.Default().Validate(raw)
			if err != nil {
				printIssues(e.stderr, args[0], err)
				return invalid(err)
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(e.stderr, "%s: warning: %s\n", args[0], w)
			}
			want, _ := protocol.TypFor(res.MessageType)
			if typ != "" && typ != want {
				return fmt.Errorf("--typ %s cannot carry messageType %s (it travels as %s)", typ, res.MessageType, want)
			}
			sender, _ := res.Doc["sender"].(map[string]any)
			if c, _ := sender["country"].(string); c != signer.Member() {
				return &exitError{code: exitInvalid, err: fmt.Errorf("sender.country is %q but the key belongs to member %q: a receiver would refuse it (SENDER_MISMATCH)", c, signer.Member())}
			}
			payload, err := compactJSON(res.Doc)
			if err != nil {
				return err
			}
			tok, err := signer.Sign(want, payload)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "%s\n", tok)
			return err
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "the member's private JWK file (required)")
	cmd.Flags().StringVar(&typ, "typ", "", "the JWS typ (default: the one for the message's type)")
	return cmd
}

// compactJSON encodes a decoded message as compact JSON without HTML
// escaping; json.Number values keep their exact text.
func compactJSON(doc map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// printIssues prints a refusal as "FILE: CODE POINTER MESSAGE" lines.
func printIssues(w io.Writer, file string, err error) {
	pe, ok := err.(*protocol.Error)
	if !ok || len(pe.Issues) == 0 {
		code := protocol.CodeOf(err)
		if code == "" {
			fmt.Fprintf(w, "%s: %v\n", file, err)
			return
		}
		ptr := "/"
		if ok && pe.Pointer != "" {
			ptr = pe.Pointer
		}
		detail := err.Error()
		if ok {
			detail = pe.Detail
		}
		fmt.Fprintf(w, "%s: %s %s %s\n", file, code, ptr, detail)
		return
	}
	for _, is := range pe.Issues {
		fmt.Fprintf(w, "%s: %s\n", file, is)
	}
}
