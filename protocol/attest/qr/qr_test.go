package qr_test

import (
	"bytes"
	"errors"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/attest"
	"github.com/ecrn/crvsx/protocol/attest/qr"
	"github.com/ecrn/crvsx/protocol/jws"
)

// realistic is a unique-match attestation of TJ with three answers,
// signed with an ES256 key: the size the package doc states.
func realistic(t testing.TB, authority string) []byte {
	t.Helper()
	msg, err := attest.Build(attest.Answer{
		InResponseTo: "8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b",
		Sender:       protocol.Endpoint{NodeID: "TJ-MOJ-CRVS"},
		Recipient:    protocol.Endpoint{NodeID: "INT-UNHCR"},
		Issuer:       attest.Issuer{Country: "TJ", Authority: authority},
		MatchResult:  attest.MatchUnique,
		Answers:      map[string]string{"isRegistered": "yes", "vitalStatus": "no-death-registered", "civilStatus": "married"},
		AttestedAt:   time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC),
		Purpose:      "humanitarian-verification",
	}, "6b5a4f3e-2d1c-4b0a-9f8e-7d6c5b4a3f2e")
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.GenerateKey("TJ", jws.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Sign(protocol.TypAttestation, msg)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestRoundTrip: encode → PNG file → decode gives the same bytes, at every
// level, for the realistic attestation (SPEC §11.3 "fits in a QR code").
func TestRoundTrip(t *testing.T) {
	for name, authority := range map[string]string{
		"english-authority":  "Civil Registry Office, Ministry of Justice of the Republic of Tajikistan",
		"cyrillic-authority": "Отдел ЗАГС Министерства юстиции Республики Таджикистан",
	} {
		tok := realistic(t, authority)
		for _, level := range []qr.Level{qr.LevelL, qr.LevelM, qr.LevelQ, qr.LevelH} {
			t.Run(name+"/"+string(level), func(t *testing.T) {
				code, err := qr.Encode(tok, level)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%d bytes: version %d, level %s, %d modules a side", len(tok), code.Version, code.Level, code.Modules)
				if code.Modules != 17+4*code.Version {
					t.Fatalf("version %d has %d modules a side, not %d", code.Version, code.Modules, 17+4*code.Version)
				}
				file := filepath.Join(t.TempDir(), "a.png")
				b, err := code.PNG(4)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, b, 0o644); err != nil {
					t.Fatal(err)
				}
				read, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				got, err := qr.DecodePNG(read)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, tok) {
					t.Fatalf("round trip changed the token:\n got %s\nwant %s", got, tok)
				}
			})
		}
	}
}

// TestDefaultLevelFitsARealisticAttestation pins the package doc's
// numbers: level M, at most 1,100 bytes, a version of at most 27.
func TestDefaultLevelFitsARealisticAttestation(t *testing.T) {
	tok := realistic(t, "Civil Registry Office, Ministry of Justice of the Republic of Tajikistan")
	code, err := qr.Encode(tok, "")
	if err != nil {
		t.Fatal(err)
	}
	if code.Level != qr.LevelM || code.Version > 27 || len(tok) > 1100 {
		t.Fatalf("%d bytes: version %d level %s; the package doc says 1,039 bytes, version 26 at M", len(tok), code.Version, code.Level)
	}
}

func TestEncodeRefuses(t *testing.T) {
	if _, err := qr.Encode(bytes.Repeat([]byte("a"), qr.Capacity(qr.LevelM)+1), qr.LevelM); !errors.Is(err, qr.ErrTooLarge) {
		t.Fatalf("over capacity: %v", err)
	}
	if _, err := qr.Encode(bytes.Repeat([]byte("a"), qr.Capacity(qr.LevelH)+1), qr.LevelH); !errors.Is(err, qr.ErrTooLarge) {
		t.Fatalf("over H's capacity: %v", err)
	}
	if _, err := qr.Encode(bytes.Repeat([]byte("a"), qr.Capacity(qr.LevelM)), qr.LevelM); err != nil {
		t.Fatalf("exactly the capacity must fit: %v", err)
	}
	if _, err := qr.Encode([]byte("a.b\n"), qr.LevelM); err == nil || !strings.Contains(err.Error(), "printable ASCII") {
		t.Fatalf("newline: %v", err)
	}
	if _, err := qr.Encode([]byte("x"), "Z"); err == nil {
		t.Fatal("unknown level accepted")
	}
	code, _ := qr.Encode([]byte("x"), qr.LevelM)
	if _, err := code.Image(0); err == nil {
		t.Fatal("scale 0 accepted")
	}
}

func TestDecodeRefuses(t *testing.T) {
	blank := image.NewGray(image.Rect(0, 0, 200, 200))
	for i := range blank.Pix {
		blank.Pix[i] = 0xff
	}
	if _, err := qr.Decode(blank); !errors.Is(err, qr.ErrNotFound) {
		t.Fatalf("blank image: %v", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, blank); err != nil {
		t.Fatal(err)
	}
	if _, err := qr.DecodePNG(buf.Bytes()); !errors.Is(err, qr.ErrNotFound) {
		t.Fatalf("blank PNG: %v", err)
	}
	if _, err := qr.DecodePNG([]byte("not a png")); err == nil || !strings.Contains(err.Error(), "not a PNG") {
		t.Fatalf("not a PNG: %v", err)
	}
	huge := image.NewGray(image.Rect(0, 0, 5000, 5000))
	buf.Reset()
	if err := png.Encode(&buf, huge); err != nil {
		t.Fatal(err)
	}
	if _, err := qr.DecodePNG(buf.Bytes()); err == nil || !strings.Contains(err.Error(), "pixels") {
		t.Fatalf("25 Mpx image: %v", err)
	}
}

// A phone photographs a printed code and sends a JPEG: DecodeFile reads it
// (lossy compression, the picture scaled up and placed on a grey page),
// and refuses what is neither a PNG nor a JPEG.
func TestDecodeFileReadsAJPEGPhoto(t *testing.T) {
	tok := realistic(t, "Civil Registry Office, Ministry of Justice of the Republic of Tajikistan")
	code, err := qr.Encode(tok, qr.DefaultLevel)
	if err != nil {
		t.Fatal(err)
	}
	sym, err := code.Image(5)
	if err != nil {
		t.Fatal(err)
	}
	b := sym.Bounds()
	page := image.NewGray(image.Rect(0, 0, b.Dx()+120, b.Dy()+160))
	for i := range page.Pix {
		page.Pix[i] = 0xd8 // paper under indoor light
	}
	draw.Draw(page, b.Add(image.Pt(60, 80)), sym, b.Min, draw.Src)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, page, &jpeg.Options{Quality: 75}); err != nil {
		t.Fatal(err)
	}
	if !qr.IsImage(buf.Bytes()) {
		t.Fatal("a JPEG is not recognised as an image")
	}
	got, err := qr.DecodeFile(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, tok) {
		t.Fatalf("the JPEG gave other bytes:\n got %s\nwant %s", got, tok)
	}
	if _, err := qr.DecodeFile([]byte("GIF89a…")); err == nil {
		t.Fatal("a GIF was decoded")
	}
	if _, err := qr.DecodePNG(buf.Bytes()); err == nil {
		t.Fatal("DecodePNG took a JPEG")
	}
}
