package semantic

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"
)

// hasBidiControl reports whether s holds an embedding, override or isolate
// control: U+202A–U+202E (LRE, RLE, PDF, LRO, RLO) or U+2066–U+2069 (LRI,
// RLI, FSI, PDI). They reorder what a clerk sees without changing what is
// stored ("Trojan Source"), so no field may carry them. The marks U+200E,
// U+200F and U+061C, and ZWNJ/ZWJ (U+200C/U+200D, needed in Persian, Dari
// and Tajik names in Arabic script), are allowed.
func hasBidiControl(s string) bool {
	// All of them encode as E2 80 AA–AE or E2 81 A6–A9.
	for i := strings.IndexByte(s, 0xE2); i >= 0 && i+2 < len(s); {
		b1, b2 := s[i+1], s[i+2]
		if (b1 == 0x80 && b2 >= 0xAA && b2 <= 0xAE) || (b1 == 0x81 && b2 >= 0xA6 && b2 <= 0xA9) {
			return true
		}
		j := strings.IndexByte(s[i+1:], 0xE2)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// Scripts, as bits, for the name checks.
const (
	scriptLatin uint16 = 1 << iota
	scriptCyrillic
	scriptArabic
	scriptGreek
	scriptArmenian
	scriptGeorgian
	scriptHebrew
	scriptMongolian
	scriptHan
	scriptHangul
	scriptHiragana
	scriptKatakana
	scriptOther // a letter of any script not listed
)

var scriptTables = [...]struct {
	bit   uint16
	table *unicode.RangeTable
}{
	{scriptLatin, unicode.Latin},
	{scriptCyrillic, unicode.Cyrillic},
	{scriptArabic, unicode.Arabic},
	{scriptGreek, unicode.Greek},
	{scriptArmenian, unicode.Armenian},
	{scriptGeorgian, unicode.Georgian},
	{scriptHebrew, unicode.Hebrew},
	{scriptMongolian, unicode.Mongolian},
	{scriptHan, unicode.Han},
	{scriptHangul, unicode.Hangul},
	{scriptHiragana, unicode.Hiragana},
	{scriptKatakana, unicode.Katakana},
}

// scriptOf returns the script bit of r, or 0 for the characters that belong
// to every script: Common and Inherited (spaces, punctuation, digits,
// combining marks, ʻ U+02BB, ’ U+2019, ZWNJ …).
func scriptOf(r rune) uint16 {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			return scriptLatin
		}
		return 0
	}
	for _, st := range scriptTables {
		if unicode.Is(st.table, r) {
			return st.bit
		}
	}
	if unicode.IsLetter(r) && !unicode.In(r, unicode.Common, unicode.Inherited) {
		return scriptOther
	}
	return 0
}

// mixedOK says whether a set of scripts may share one word: a single script,
// or the combinations one writing system uses (Japanese, Korean).
func mixedOK(bits uint16) bool {
	if bits&(bits-1) == 0 {
		return true
	}
	const jpan = scriptHan | scriptHiragana | scriptKatakana
	const kore = scriptHan | scriptHangul
	return bits&^jpan == 0 || bits&^kore == 0
}

// isWordBreak separates the words of a name: white space and the hyphens.
// Apostrophes (' ʻ ʼ ’) stay inside a word, as in Oʻktam or Qo'chqor; being
// Common script, they never count as a script of their own.
func isWordBreak(r rune) bool {
	switch r {
	case ' ', '-', '\u00A0', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212', ',', '.', '(', ')', '/':
		return true
	}
	return unicode.IsSpace(r)
}

// nameScripts returns the union of the scripts of the letters of s, and
// whether one word of s mixes scripts (a Cyrillic "а" inside a Latin name).
func nameScripts(s string) (all uint16, mixed bool) {
	var word uint16
	for _, r := range s {
		if isWordBreak(r) {
			word = 0
			continue
		}
		b := scriptOf(r)
		word |= b
		all |= b
		if !mixedOK(word) {
			mixed = true
		}
	}
	return all, mixed
}

// scriptBits maps the ISO 15924 code of a name to the scripts its letters
// may use; 0 for a code this package does not know (no check).
func scriptBits(code string) uint16 {
	switch code {
	case "Latn":
		return scriptLatin
	case "Cyrl":
		return scriptCyrillic
	case "Arab":
		return scriptArabic
	case "Grek":
		return scriptGreek
	case "Armn":
		return scriptArmenian
	case "Geor":
		return scriptGeorgian
	case "Hebr":
		return scriptHebrew
	case "Mong":
		return scriptMongolian
	case "Hani", "Hans", "Hant":
		return scriptHan
	case "Hang":
		return scriptHangul
	case "Kore":
		return scriptHan | scriptHangul
	case "Hira":
		return scriptHiragana
	case "Kana":
		return scriptKatakana
	case "Jpan":
		return scriptHan | scriptHiragana | scriptKatakana
	}
	return 0
}

// turkishLower is the x/text lower-caser with the Turkish and Azerbaijani
// rules (I → ı, İ → i). A Caser keeps state, so each use takes its own.
var turkishLower = sync.Pool{New: func() any { c := cases.Lower(language.Turkish); return &c }}

// FoldName returns the key under which two spellings of a name are the same
// name, for matching (status queries, comparing name parts) and never for
// storing or sending: names travel as written.
//
//   - NFC, then lower case with the Turkish/Azerbaijani rules (x/text), then
//     the dotted and dotless i merged: İstanbul, ISTANBUL and istanbul fold
//     alike, and so do Işık and IŞIK — whether or not the other side wrote
//     the Turkish capitals;
//   - apostrophes folded to U+0027: the Uzbek ʻ (U+02BB) and ʼ (U+02BC), ’
//     (U+2019), ‘ (U+2018), ` and ´ — Oʻzbek and O'zbek fold alike;
//   - ZWNJ and ZWJ removed (they only shape Arabic-script letters) and the
//     Arabic yeh/kaf folded to their Persian forms (ي ى → ی, ك → ک), so that
//     Dari and Tajik names typed on Arabic or Persian keyboards match;
//   - hyphen variants folded to '-', white space runs to one space, trimmed.
//
// Letters keep their diacritics: Şahin and Sahin stay different.
func FoldName(s string) string {
	s = norm.NFC.String(s)
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		c := turkishLower.Get().(*cases.Caser)
		s = c.String(s)
		turkishLower.Put(c)
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	var prev rune
	for _, r := range s {
		switch {
		case r == 'I' || r == 'ı' || r == 'İ':
			r = 'i'
		case r == '\u0307' && prev == 'i': // i + combining dot above, from a non-Turkish lower-casing of İ
			continue
		case r == '\u02BB' || r == '\u02BC' || r == '\u2019' || r == '\u2018' || r == '`' || r == '\u00B4' || r == '\u02B9':
			r = '\''
		case r == '\u200C' || r == '\u200D':
			continue
		case r == '\u064A' || r == '\u0649':
			r = '\u06CC'
		case r == '\u0643':
			r = '\u06A9'
		case r == '\u2010' || r == '\u2011' || r == '\u2012' || r == '\u2013' || r == '\u2212':
			r = '-'
		case 'A' <= r && r <= 'Z':
			r += 'a' - 'A'
		case unicode.IsSpace(r):
			space = true
			continue
		}
		if space {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}
