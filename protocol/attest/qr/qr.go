package qr

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
	"github.com/makiuchi-d/gozxing/qrcode/encoder"
)

// Level is a QR error-correction level.
type Level string

// The four levels (ISO/IEC 18004): the share of the symbol that can be
// lost and still read.
const (
	LevelL Level = "L" // about 7 %
	LevelM Level = "M" // about 15 %: the default
	LevelQ Level = "Q" // about 25 %
	LevelH Level = "H" // about 30 %
)

// DefaultLevel is the level Encode uses for "": M, a balance between a
// symbol a phone reads from a screen or a creased printout and one small
// enough for a realistic attestation (see the package doc).
const DefaultLevel = LevelM

// capacity is the byte-mode capacity of a version 40 symbol per level.
var capacity = map[Level]int{LevelL: 2953, LevelM: 2331, LevelQ: 1663, LevelH: 1273}

var levels = map[Level]decoder.ErrorCorrectionLevel{
	LevelL: decoder.ErrorCorrectionLevel_L, LevelM: decoder.ErrorCorrectionLevel_M,
	LevelQ: decoder.ErrorCorrectionLevel_Q, LevelH: decoder.ErrorCorrectionLevel_H,
}

// Capacity is the most bytes a QR code of the level holds in byte mode
// (version 40); 0 for an unknown level.
func Capacity(l Level) int { return capacity[l] }

// Limits of Decode and DecodePNG, checked before the work they protect.
const (
	MaxPNGBytes = 8 << 20  // a PNG file
	MaxPixels   = 16 << 20 // width × height of an image to scan
	QuietZone   = 4        // modules of white border (ISO/IEC 18004 §6.3.8)
	MaxScale    = 32       // pixels per module
	maxData     = 3 << 10  // the most bytes any QR code holds, with margin
	byteCharset = "ISO-8859-1"
)

// ErrTooLarge: the data does not fit a QR code at the level.
var ErrTooLarge = errors.New("qr: too large for a QR code")

// ErrNotFound: no readable QR code in the image.
var ErrNotFound = errors.New("qr: no readable QR code in the image")

// Code is an encoded QR symbol.
type Code struct {
	Version int   // 1–40
	Level   Level // the error-correction level
	Modules int   // modules a side, without the quiet zone
	Bytes   int   // the data's length
	matrix  [][]int8
}

// Encode draws data as a QR code in byte mode at level ("" for
// DefaultLevel). data must be printable ASCII (a compact JWS is): byte
// mode then carries it unchanged whatever character set a reader assumes.
func Encode(data []byte, level Level) (*Code, error) {
	if level == "" {
		level = DefaultLevel
	}
	ecl, ok := levels[level]
	if !ok {
		return nil, fmt.Errorf("qr: error-correction level %q: want L, M, Q or H", level)
	}
	if len(data) == 0 {
		return nil, errors.New("qr: no data")
	}
	for i, c := range data {
		if c < 0x20 || c > 0x7e {
			return nil, fmt.Errorf("qr: byte %d is not printable ASCII (0x%02x): a compact JWS is", i, c)
		}
	}
	if len(data) > capacity[level] {
		return nil, fmt.Errorf("%w: %d bytes, level %s holds at most %d (a lower level holds more: L %d)",
			ErrTooLarge, len(data), level, capacity[level], capacity[LevelL])
	}
	// No character-set hint: the library's default for byte mode is
	// ISO-8859-1 without an ECI header, which leaves the full capacity.
	code, err := encoder.Encoder_encode(string(data), ecl, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %d bytes at level %s: %v", ErrTooLarge, len(data), level, err)
	}
	m := code.GetMatrix()
	if m == nil || m.GetWidth() != m.GetHeight() {
		return nil, errors.New("qr: the encoder returned no square matrix")
	}
	return &Code{Version: code.GetVersion().GetVersionNumber(), Level: level, Modules: m.GetWidth(), Bytes: len(data), matrix: m.GetArray()}, nil
}

// Image renders the code with scale pixels a module (1–MaxScale) and a
// quiet zone of QuietZone modules: black on white, 8-bit grey.
func (c *Code) Image(scale int) (*image.Gray, error) {
	if scale < 1 || scale > MaxScale {
		return nil, fmt.Errorf("qr: scale %d: want 1–%d pixels a module", scale, MaxScale)
	}
	side := (c.Modules + 2*QuietZone) * scale
	img := image.NewGray(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for y, row := range c.matrix {
		for x, v := range row {
			if v != 1 {
				continue
			}
			x0, y0 := (x+QuietZone)*scale, (y+QuietZone)*scale
			for dy := 0; dy < scale; dy++ {
				for dx := 0; dx < scale; dx++ {
					img.SetGray(x0+dx, y0+dy, color.Gray{Y: 0})
				}
			}
		}
	}
	return img, nil
}

// PNG is the code rendered by Image as a PNG file.
func (c *Code) PNG(scale int) ([]byte, error) {
	img, err := c.Image(scale)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("qr: png: %w", err)
	}
	return buf.Bytes(), nil
}

// Decode reads the one QR code of img and returns its bytes. It never
// panics: a panic inside the library is returned as an error.
func Decode(img image.Image) (data []byte, err error) {
	if img == nil {
		return nil, ErrNotFound
	}
	if b := img.Bounds(); b.Dx() <= 0 || b.Dy() <= 0 || b.Dx()*b.Dy() > MaxPixels {
		return nil, fmt.Errorf("qr: image of %dx%d pixels: at most %d pixels are scanned", b.Dx(), b.Dy(), MaxPixels)
	}
	defer func() {
		if r := recover(); r != nil {
			data, err = nil, fmt.Errorf("%w: the reader failed: %v", ErrNotFound, r)
		}
	}()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	// First as a photo (find the finder patterns anywhere, at any angle);
	// then, if that fails, as a clean rendering such as Image's, whose
	// modules the reader takes from the image's own grid: the finder
	// search can misjudge the size of a dense, clean symbol.
	hints := map[gozxing.DecodeHintType]any{
		gozxing.DecodeHintType_TRY_HARDER:    true,
		gozxing.DecodeHintType_CHARACTER_SET: byteCharset,
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, hints)
	if err != nil {
		hints[gozxing.DecodeHintType_PURE_BARCODE] = true
		var err2 error
		if res, err2 = qrcode.NewQRCodeReader().Decode(bmp, hints); err2 != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotFound, err)
		}
	}
	text := res.GetText()
	if len(text) > maxData {
		return nil, fmt.Errorf("%w: %d bytes decoded", ErrTooLarge, len(text))
	}
	// ISO-8859-1 maps bytes to the code points U+0000–U+00FF: back to bytes.
	out := make([]byte, 0, len(text))
	for _, r := range text {
		if r > 0xff {
			return nil, fmt.Errorf("qr: the code holds U+%04X, not a byte", r)
		}
		out = append(out, byte(r))
	}
	return out, nil
}

// DecodePNG reads the QR code of a PNG file (DecodeFile, PNG only).
func DecodePNG(file []byte) ([]byte, error) {
	if !bytes.HasPrefix(file, pngMagic) {
		return nil, errors.New("qr: not a PNG file")
	}
	return DecodeFile(file)
}

var (
	pngMagic  = []byte("\x89PNG\r\n\x1a\n")
	jpegMagic = []byte{0xff, 0xd8, 0xff}
)

// IsImage reports whether file starts like a PNG or a JPEG file: what
// DecodeFile reads.
func IsImage(file []byte) bool {
	return bytes.HasPrefix(file, pngMagic) || bytes.HasPrefix(file, jpegMagic)
}

// DecodeFile reads the QR code of an image file — a PNG, or a JPEG as a
// phone's camera takes it — checking its size and its dimensions before
// decoding the pixels.
func DecodeFile(file []byte) ([]byte, error) {
	if len(file) > MaxPNGBytes {
		return nil, fmt.Errorf("qr: image of %d bytes: at most %d", len(file), MaxPNGBytes)
	}
	var (
		cfg    image.Config
		err    error
		decode func(io.Reader) (image.Image, error)
		kind   string
	)
	switch {
	case bytes.HasPrefix(file, pngMagic):
		kind, decode = "PNG", png.Decode
		cfg, err = png.DecodeConfig(bytes.NewReader(file))
	case bytes.HasPrefix(file, jpegMagic):
		kind, decode = "JPEG", jpeg.Decode
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(file))
	default:
		return nil, errors.New("qr: not a PNG or JPEG file")
	}
	if err != nil {
		return nil, fmt.Errorf("qr: not a %s file: %w", kind, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > MaxPixels/cfg.Height {
		return nil, fmt.Errorf("qr: %s of %dx%d pixels: at most %d pixels are scanned", kind, cfg.Width, cfg.Height, MaxPixels)
	}
	img, err := decode(bytes.NewReader(file))
	if err != nil {
		return nil, fmt.Errorf("qr: %s: %w", kind, err)
	}
	return Decode(img)
}
