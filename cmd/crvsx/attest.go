package main

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/attest"
	"github.com/ecrn/crvsx/protocol/attest/qr"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/spf13/cobra"
)

func newAttestCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "attest",
		Short: "Status attestations: carry them as QR codes (verify them with crvsx verify)",
		Long: `Status attestations (protocol/SPEC.md §11) are a member's signed answers to a
crisis responder's status query. "crvsx verify --bundle … ATTESTATION" checks
one offline; "crvsx attest qr" puts one in a QR code for a phone or a printout,
and "crvsx verify --qr FILE.png --bundle …" reads it back and checks it.`,
		Example: `  crvsx verify --bundle trust-bundle.json --genesis-sha256 5d41… attestation.jws
  crvsx attest qr attestation.jws --out attestation.png
  crvsx verify --bundle trust-bundle.json --genesis-sha256 5d41… --qr attestation.png`,
	}
	cmd.AddCommand(newAttestQRCmd(e))
	return cmd
}

func newAttestQRCmd(e *env) *cobra.Command {
	var (
		out   string
		level string
		scale int
		force bool
	)
	cmd := &cobra.Command{
		Use:   "qr ATTESTATION.jws|- --out FILE.png [--ecc M] [--scale 4]",
		Short: "Write an attestation's compact JWS as a QR code (PNG)",
		Long: `Write the compact JWS of a status attestation as a QR code in byte mode, a PNG
image with a quiet zone of 4 modules. The token is not changed: a reader gets
back the exact signed bytes, which "crvsx verify --qr FILE.png" checks.

Size: a realistic unique-match attestation (three answers, an ES256 key) is
about 1,040 bytes (1,080 with an authority's name in Cyrillic). At the default
error-correction level M (about 15 % of the symbol may be lost) that is a QR
version 26–27, 121–125 modules a side: with --scale 4, a PNG of about 530
pixels, about 4.5 cm printed at 300 dpi. L holds the most (2,953 bytes, a
smaller symbol, less robust); Q and H survive more damage but need a larger
symbol (H holds at most 1,273 bytes). A token that does not fit the level is
refused, never cut.

The input is the token exactly as received; one trailing newline is removed.
Only an attestation (typ crvs-attestation+jws) is written.`,
		Example: `  crvsx attest qr attestation.jws --out attestation.png
  crvsx attest qr --ecc Q --scale 6 --out a.png - < attestation.jws
  crvsx verify --qr attestation.png --bundle trust-bundle.json --genesis-sha256 5d41…`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("--out FILE.png is required")
			}
			if scale < 1 || scale > qr.MaxScale {
				return fmt.Errorf("--scale %d: want 1–%d pixels a module", scale, qr.MaxScale)
			}
			l := qr.Level(level)
			if qr.Capacity(l) == 0 {
				return fmt.Errorf("--ecc %q: want L, M, Q or H", level)
			}
			raw, err := e.readInput(args[0], attest.MaxTokenBytes+1)
			if err != nil {
				if protocol.CodeOf(err) != "" {
					return refused(fmt.Errorf("%s is larger than any attestation (%d bytes at most)", args[0], attest.MaxTokenBytes))
				}
				return err
			}
			raw = bytes.TrimSuffix(raw, []byte("\n"))
			if !attest.IsAttestation(raw) {
				return refused(fmt.Errorf("%s is not an attestation: its protected header's typ is not %s", args[0], protocol.TypAttestation))
			}
			code, err := qr.Encode(raw, l)
			if err != nil {
				if errors.Is(err, qr.ErrTooLarge) {
					return refused(err)
				}
				return refused(fmt.Errorf("%s: %w", args[0], err))
			}
			png, err := code.PNG(scale)
			if err != nil {
				return err
			}
			if err := e.writeOut(out, png, 0o644, force); err != nil {
				return err
			}
			side := (code.Modules + 2*qr.QuietZone) * scale
			fmt.Fprintf(e.stderr, "wrote %s: %d bytes in a QR code version %d, level %s, %d modules a side (%dx%d pixels)\n",
				out, code.Bytes, code.Version, code.Level, code.Modules, side, side)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the PNG file to write (- for stdout)")
	cmd.Flags().StringVar(&level, "ecc", string(qr.DefaultLevel), "error-correction level: L, M, Q or H")
	cmd.Flags().IntVar(&scale, "scale", 4, "pixels a module")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite --out if it exists")
	return cmd
}

// verifyAttestation is the attestation path of crvsx verify: SPEC §11.3
// against the replayed bundle, at this machine's time. It prints the plain
// verdict (or, with --json, the verdict as canonical JSON) on stdout;
// exit 0 when valid, 1 when not valid or expired.
func verifyAttestation(e *env, raw []byte, view *trust.View, asJSON bool) error {
	v, err := attest.Verify(raw, view, time.Now())
	if v == nil {
		return err // an internal fault: exit 2
	}
	if asJSON {
		b, jerr := v.CanonicalJSON()
		if jerr != nil {
			return jerr
		}
		if _, werr := fmt.Fprintf(e.stdout, "%s\n", b); werr != nil {
			return werr
		}
	} else if _, werr := fmt.Fprintln(e.stdout, v.String()); werr != nil {
		return werr
	}
	switch v.Outcome {
	case attest.OutcomeValid:
		for _, w := range v.Warnings {
			fmt.Fprintf(e.stderr, "warning: %s\n", w)
		}
		fmt.Fprintf(e.stderr, "valid: status.attestation %s from %s (kid %s)\n", v.MessageID, v.Issuer.Country, v.Kid)
		return nil
	case attest.OutcomeExpired:
		fmt.Fprintf(e.stderr, "expired (not false): %s: %s\n", v.Code, v.Detail)
	default:
		fmt.Fprintf(e.stderr, "not valid: %s: %s\n", v.Code, v.Detail)
		for _, is := range v.Issues {
			fmt.Fprintf(e.stderr, "  %s\n", is)
		}
	}
	return invalid(err)
}
