package match

import (
	"strings"
	"unicode"

	"github.com/ecrn/crvsx/schemas/semantic"
)

// The name key (DESIGN.md M1 "Name key"): semantic.FoldName, apostrophes
// dropped, every letter to Latin by one table per script, the digraphs of
// the common transliteration schemes folded, vowels folded to three classes
// and doubled letters to one.

// cyrillic maps the lower-case Cyrillic letters of Russian, Tajik, Uzbek,
// Kazakh and Kyrgyz to Latin, before the digraph folding.
var cyrillic = map[rune]string{
	'а': "a", 'б': "b", 'в': "v", 'г': "g", 'д': "d", 'е': "e", 'ё': "yo",
	'ж': "j", 'з': "z", 'и': "i", 'й': "i", 'к': "k", 'л': "l", 'м': "m",
	'н': "n", 'о': "o", 'п': "p", 'р': "r", 'с': "s", 'т': "t", 'у': "u",
	'ф': "f", 'х': "h", 'ц': "ts", 'ч': "ch", 'ш': "sh", 'щ': "sh", 'ъ': "",
	'ы': "i", 'ь': "", 'э': "e", 'ю': "yu", 'я': "ya",
	'ғ': "g", 'қ': "k", 'ҳ': "h", 'ҷ': "j", 'ӣ': "i", 'ӯ': "u", 'ў': "u",
	'ә': "a", 'ө': "o", 'ү': "u", 'ұ': "u", 'ң': "n", 'і': "i", 'һ': "h",
	'ґ': "g", 'є': "e", 'ї': "i", 'ҙ': "z", 'ҫ': "s", 'ӧ': "o", 'ӱ': "u",
}

// latin maps the Latin letters with diacritics of the region's alphabets
// (Turkish, Azerbaijani, Kazakh 2021, Turkmen) and common look-alikes.
var latin = map[rune]string{
	'ä': "a", 'á': "a", 'à': "a", 'â': "a", 'ã': "a", 'å': "a", 'ā': "a", 'ə': "a",
	'é': "e", 'è': "e", 'ê': "e", 'ë': "e", 'ē': "e",
	'í': "i", 'ì': "i", 'î': "i", 'ï': "i", 'ī': "i", 'ı': "i", 'ý': "i", 'ÿ': "i",
	'ó': "o", 'ò': "o", 'ô': "o", 'õ': "o", 'ö': "o", 'ō': "o", 'ø': "o",
	'ú': "u", 'ù': "u", 'û': "u", 'ü': "u", 'ū': "u", 'ŭ': "u",
	'ş': "sh", 'ș': "sh", 'š': "sh", 'ç': "ch", 'č': "ch", 'ğ': "g", 'ǵ': "g",
	'ñ': "n", 'ń': "n", 'ň': "n", 'ž': "zh",
}

// arabic maps the letters of Persian (Dari, Tajik in Arabic script) to
// Latin consonants. Short vowels are not written; و and ی are both vowel
// and consonant, so the skeleton drops them (M1 "Arabic script").
var arabic = map[rune]string{
	'ا': "a", 'آ': "a", 'أ': "a", 'إ': "i", 'ب': "b", 'پ': "p", 'ت': "t",
	'ث': "s", 'ج': "j", 'چ': "ch", 'ح': "h", 'خ': "h", 'د': "d", 'ذ': "z",
	'ر': "r", 'ز': "z", 'ژ': "j", 'س': "s", 'ش': "sh", 'ص': "s", 'ض': "z",
	'ط': "t", 'ظ': "z", 'ع': "", 'غ': "g", 'ف': "f", 'ق': "k", 'ک': "k",
	'گ': "g", 'ل': "l", 'م': "m", 'ن': "n", 'و': "v", 'ه': "h", 'ی': "i",
	'ء': "", 'ة': "h", 'ئ': "i", 'ؤ': "v",
}

// digraphs folds the spellings of one sound across schemes, longest first.
var digraphs = strings.NewReplacer(
	"shch", "sh", "sch", "sh", "tch", "ch", "dzh", "j", "dj", "j", "zh", "j",
	"kh", "h", "gh", "g", "ph", "f", "ng", "n",
	"x", "h", "q", "k", "w", "v", "y", "i",
)

// vowels folds a/e, o/u and i/y into three classes (M1).
var vowels = strings.NewReplacer("e", "a", "o", "u")

// familySuffixes are the Tajik/Persian/Azerbaijani "son of" family-name
// endings that are one ending spelled several ways (Sharifzoda = Sharifzade).
var familySuffixes = []string{"zoda", "zade", "zada", "zodah", "zadeh"}

// token is one word of a name, as matching sees it.
type token struct {
	key    string // the phonetic key
	skel   string // consonant skeleton: blocking key and Arabic-script comparison
	arabic bool   // written in Arabic script: compared on the skeleton only
	patro  bool   // a patronymic; key is its stem
	// known: a subject's token whose key is a name some record holds,
	// and variants the keys the records hold as other spellings of it (M2
	// "A name is not a typo of another"); never set on a record's token.
	known    bool
	variants []string
}

// words splits a folded name into words; hyphens join (Abdul-Aziz =
// Abdulaziz), apostrophes vanish (Gʻulomov = Gulomov).
func words(s string) []string {
	s = semantic.FoldName(s)
	return strings.FieldsFunc(strings.NewReplacer("-", "", "'", "").Replace(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsMark(r)
	})
}

// keyOf turns one folded word into its token (patro unset).
func keyOf(w string) token {
	var b strings.Builder
	var t token
	for _, r := range w {
		switch {
		case r < 0x80:
			if 'a' <= r && r <= 'z' {
				b.WriteRune(r)
			}
		case cyrillic[r] != "" || r == 'ъ' || r == 'ь':
			b.WriteString(cyrillic[r])
		case latin[r] != "":
			b.WriteString(latin[r])
		case arabic[r] != "" || r == 'ع' || r == 'ء':
			t.arabic = true
			b.WriteString(arabic[r])
		case unicode.IsLetter(r):
			b.WriteRune(r) // a letter no table knows: kept, compared as is
		}
	}
	s := b.String()
	if !t.arabic { // the Arabic table already gives one spelling per letter
		s = digraphs.Replace(s)
	}
	for _, suf := range familySuffixes {
		if len(s) > len(suf)+1 && strings.HasSuffix(s, suf) {
			s = s[:len(s)-len(suf)] + "zada"
			break
		}
	}
	t.key = squeeze(vowels.Replace(s))
	t.skel = skeleton(t.key)
	return t
}

// squeeze folds runs of one letter to one (Muhammad = Muhamad).
func squeeze(s string) string {
	var b strings.Builder
	var prev rune = -1
	for _, r := range s {
		if r != prev {
			b.WriteRune(r)
		}
		prev = r
	}
	return b.String()
}

// skeleton drops the vowels, v and a final h of a key: what Arabic script
// writes of a Persian name (M1 "Arabic script").
func skeleton(key string) string {
	var b strings.Builder
	for _, r := range key {
		switch r {
		case 'a', 'u', 'i', 'v':
			continue
		}
		b.WriteRune(r)
	}
	s := strings.TrimSuffix(b.String(), "h")
	return squeeze(s)
}
