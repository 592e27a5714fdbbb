// Package qr carries a compact JWS attestation in a QR code (SPEC §11.3:
// "An attestation in compact form fits in a QR code"): Encode draws the
// token's bytes in byte mode as a PNG, Decode reads them back from an
// image. It owns the QR library; nothing else in the module imports it.
//
// The library is github.com/makiuchi-d/gozxing, the Go port of ZXing
// (the reference open-source barcode reader and writer), chosen after
// weighing the candidates the Go module proxy serves:
//
//   - makiuchi-d/gozxing v0.1.1 (last release October 2021): encodes AND
//     decodes QR codes, pure Go, ports ZXing's own test suite, depends
//     only on x/text and x/xerrors. Its last tag is old, but QR codes are a
//     frozen standard (ISO/IEC 18004) and it is the only decoder on the
//     proxy here: the other Go decoders (tuotoo/qrcode, liyue201/goqr)
//     are not served.
//   - skip2/go-qrcode (last commit June 2020, no tagged release):
//     encodes only, unmaintained.
//   - yeqown/go-qrcode/v2 v2.3.0 (2026): encodes only, active; its image
//     writer is a separate module with more dependencies.
//   - piglig/go-qr v1.1.0 (2026): encodes only (a port of Nayuki's
//     generator), active.
//
// One library for both directions means one owner and one dependency;
// the round trip (encode → PNG → decode → the same bytes) is tested, and
// a reader on a phone is any standard QR reader, not this package.
//
// Size, measured by TestRoundTrip: a realistic unique-match attestation
// (three answers, an ES256 signature) is 1,039 bytes of compact JWS with
// an English authority name of 72 characters, 1,080 with a Cyrillic one
// of 55 (two bytes a letter). At the default error-correction level M
// (about 15 % of the symbol recoverable) that is a version 26–27 symbol,
// 121–125 modules a side: at 4 pixels a module a PNG of about 530 pixels
// a side, about 4.5 cm printed at 300 dpi. Level M holds at most 2,331
// bytes (version 40); a token that does not fit is refused with
// ErrTooLarge, never truncated.
//
// Imports: makiuchi-d/gozxing (this package is its owner).
package qr
