package match

import (
	"slices"
	"strings"
)

// Names as matching compares them (DESIGN.md M1 "Patronymics", "Order",
// "Typos").

// patronymicEndings are the patronymic suffixes in key form: -ovich/-evich,
// -ovna/-evna, -ichna, -ogly/-oglu/-uly/-uli, -kyzy/-kizi/-qizi/-gyzy.
var patronymicEndings = []string{"uvich", "avich", "uvna", "avna", "ichna", "ugli", "uglu", "kizi", "gizi"}

// patronymicWords are the patronymic markers written as a word of their
// own after the father's name (Rustam oʻgʻli, Rustam qizi, Rustam uly).
var patronymicWords = map[string]bool{"ugli": true, "uglu": true, "uli": true, "kizi": true, "gizi": true}

// pname is a prepared name: its words as tokens.
type pname struct{ toks []token }

// prepareName splits a name into tokens. The parts are used when there are
// any, the full name otherwise; in a full name, a word with a patronymic
// ending, or followed by a patronymic marker, is the patronymic.
func prepareName(n Name) pname {
	var p pname
	if n.Given != "" || n.Family != "" || n.Patronymic != "" {
		p.add(n.Given, false)
		p.add(n.Family, false)
		p.add(n.Patronymic, true)
		return p
	}
	p.add(n.Full, false)
	return p
}

func (p *pname) add(s string, patro bool) {
	ws := words(s)
	for i, w := range ws {
		t := keyOf(w)
		if t.key == "" {
			continue
		}
		if patronymicWords[t.key] && len(p.toks) > 0 && i > 0 {
			p.toks[len(p.toks)-1].patro = true
			continue
		}
		if stem, ok := patronymicStem(t.key); ok || patro {
			t.patro = true
			if ok {
				t.key = stem
			}
		}
		p.toks = append(p.toks, t)
	}
}

// patronymicStem strips a patronymic ending, leaving the father's name.
func patronymicStem(key string) (string, bool) {
	for _, e := range patronymicEndings {
		if len(key) > len(e)+2 && strings.HasSuffix(key, e) {
			return key[:len(key)-len(e)], true
		}
	}
	return key, false
}

// Token scores (M2).
const (
	scoreExact   = 4
	scoreOneEdit = 2
)

// tokenScore compares two tokens: 4 equal keys, 2 one edit apart on keys
// whose longer has ≥ 5 letters (M1 "Typos") or equal skeletons when either
// is in Arabic script, 0 otherwise.
func tokenScore(a, b token) int {
	if a.arabic || b.arabic {
		if len(a.skel) >= 2 && a.skel == b.skel {
			return scoreOneEdit
		}
		return 0
	}
	if a.key == b.key {
		return scoreExact
	}
	if a.known && !slices.Contains(a.variants, b.key) && !genderForms(a.key, b.key) { // a name the registry holds is not a typo of another (M2)
		return 0
	}
	if max(len(a.key), len(b.key)) >= 5 && withinOneEdit(a.key, b.key) {
		return scoreOneEdit
	}
	return 0
}

// nameMatch is how a subject's name meets a record's name.
type nameMatch struct {
	ok    bool // every non-patronymic subject token met a distinct record token
	score int
}

// compareNames meets the subject name s with the record name r, without
// roles: order and given/family swaps do not matter. Exact meetings are
// taken first, then one-edit ones, so a one-edit twin never takes the
// exact token's place. Patronymics are the person's, not one name's: see
// patronymicsMeet.
func compareNames(s, r pname) nameMatch {
	var m nameMatch
	used := make([]bool, len(r.toks))
	var need, met, recN int
	for _, t := range r.toks {
		if !t.patro {
			recN++
		}
	}
	pending := make([]bool, len(s.toks))
	for i, t := range s.toks {
		if !t.patro {
			need++
			pending[i] = true
		}
	}
	for _, want := range []int{scoreExact, scoreOneEdit} {
		for i, st := range s.toks {
			if !pending[i] {
				continue
			}
			for j, rt := range r.toks {
				if used[j] || rt.patro {
					continue
				}
				if tokenScore(st, rt) == want {
					used[j], pending[i] = true, false
					m.score += want
					met++
					break
				}
			}
		}
	}
	m.ok = met == need && met >= min(2, recN) && met > 0
	return m
}

// patronymicsMeet compares the patronymics of all the subject's names with
// those of all the record's (M1 "Patronymics"): absent on either side is no
// evidence; any pair meeting is agreement; both sides having one and no
// pair meeting is a contradiction — even when the record's other name form
// (a Latin passport form) leaves the patronymic out.
func patronymicsMeet(ss, rs []pname) (agree, contradict bool) {
	var sp, rp []string
	for _, n := range ss {
		sp = appendPatronymics(sp, n)
	}
	for _, n := range rs {
		rp = appendPatronymics(rp, n)
	}
	if len(sp) == 0 || len(rp) == 0 {
		return false, false
	}
	for _, a := range sp {
		for _, b := range rp {
			if stemsMeet(a, b) {
				return true, false
			}
		}
	}
	return false, true
}

func appendPatronymics(out []string, p pname) []string {
	for _, t := range p.toks {
		if t.patro {
			out = append(out, t.key)
		}
	}
	return out
}

// stemsMeet compares patronymic stems: equal, one a prefix of the other
// (Sergeevich → "sarg", Sergey → "sargai"), or one edit apart.
func stemsMeet(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return strings.HasPrefix(b, a) && len(a) >= 3 || withinOneEdit(a, b)
}

// bestNames is the best meeting of any subject name with any record name.
func bestNames(ss, rs []pname) (best nameMatch) {
	for _, s := range ss {
		for _, r := range rs {
			if m := compareNames(s, r); m.ok && (!best.ok || m.score > best.score) {
				best = m
			}
		}
	}
	return best
}

// parentsMeet compares parents' names: any one token of any name meeting
// is agreement (a mother's family name changes at marriage); both sides
// given and nothing meeting is a contradiction.
func parentsMeet(ss, rs []pname) (agree, contradict bool) {
	if len(ss) == 0 || len(rs) == 0 {
		return false, false
	}
	for _, s := range ss {
		for _, r := range rs {
			for _, st := range s.toks {
				for _, rt := range r.toks {
					if !st.patro && !rt.patro && tokenScore(st, rt) > 0 {
						return true, false
					}
				}
			}
		}
	}
	return false, true
}

// withinOneEdit reports whether a and b are at most one insertion,
// deletion, substitution or adjacent transposition apart
// (Damerau-Levenshtein, optimal string alignment, ≤ 1), where a
// substitution counts only between letters that transliteration or
// hearing confuses (M1 "Typos"): Arman and Erlan are two names, not a typo.
func withinOneEdit(a, b string) bool {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > len(rb) {
		ra, rb = rb, ra
	}
	switch len(rb) - len(ra) {
	case 0:
		i := 0
		for i < len(ra) && ra[i] == rb[i] {
			i++
		}
		if i == len(ra) {
			return true
		}
		if string(ra[i+1:]) == string(rb[i+1:]) {
			return confusable(ra[i], rb[i]) // one substitution
		}
		return i+1 < len(ra) && ra[i] == rb[i+1] && ra[i+1] == rb[i] && string(ra[i+2:]) == string(rb[i+2:])
	case 1:
		i := 0
		for i < len(ra) && ra[i] == rb[i] {
			i++
		}
		return string(ra[i:]) == string(rb[i+1:])
	}
	return false
}

// confusableGroups are the letters, in key form, one of which a scheme or a
// clerk writes for another: the vowel classes, й as i or j, k/g/h (қ ғ ҳ),
// s/z, t/d, b/p, v/f/u (ў, w), c/j (Turkish c, Cyrillic дж).
var confusableGroups = []string{"aui", "ij", "kgh", "sz", "td", "bp", "vfu", "cj"}

func confusable(a, b rune) bool {
	for _, g := range confusableGroups {
		if strings.ContainsRune(g, a) && strings.ContainsRune(g, b) {
			return true
		}
	}
	return false
}

// nameBook is what the records teach about names (M2 "A name is not a
// typo of another"): the keys of the name tokens they hold (their own names
// and their parents'; patronymics and Arabic-script tokens aside), and the
// pairs of keys one edit apart that one record holds as two spellings of
// one name (Бахтиёр and its passport form Bakhtier), which are one name.
type nameBook struct {
	names    map[string]struct{}
	variants map[string][]string
}

func newNameBook() *nameBook {
	return &nameBook{names: map[string]struct{}{}, variants: map[string][]string{}}
}

func (nb *nameBook) addPerson(r *prepared) {
	for _, group := range [][]pname{r.names, r.mother, r.father} {
		for _, n := range group {
			for _, t := range n.toks {
				if !t.patro && !t.arabic {
					nb.names[t.key] = struct{}{}
				}
			}
		}
	}
	for i, a := range r.names {
		for _, b := range r.names[i+1:] {
			for _, ta := range a.toks {
				for _, tb := range b.toks {
					if !ta.patro && !tb.patro && !ta.arabic && !tb.arabic && ta.key != tb.key && withinOneEdit(ta.key, tb.key) {
						nb.addVariant(ta.key, tb.key)
						nb.addVariant(tb.key, ta.key)
					}
				}
			}
		}
	}
}

func (nb *nameBook) addVariant(a, b string) {
	if !slices.Contains(nb.variants[a], b) {
		nb.variants[a] = append(nb.variants[a], b)
	}
}

// mark sets known (and variants) on the subject's tokens whose key is a
// name of the book.
func (nb *nameBook) mark(s *prepared) {
	for _, group := range [][]pname{s.names, s.mother, s.father} {
		for _, n := range group {
			for i := range n.toks {
				t := &n.toks[i]
				if _, ok := nb.names[t.key]; ok && !t.patro && !t.arabic {
					t.known, t.variants = true, nb.variants[t.key]
				}
			}
		}
	}
}

// genderForms reports whether a and b are the masculine and feminine forms
// of one Russian-pattern family name (Юсупов/Юсупова, Исаев/Исаева,
// Ильин/Ильина in key form: -uv/-uva, -av/-ava, -in/-ina): one name, which
// sex tells apart.
func genderForms(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return len(b) == len(a)+1 && b[len(a)] == 'a' && b[:len(a)] == a &&
		(strings.HasSuffix(a, "uv") || strings.HasSuffix(a, "av") || strings.HasSuffix(a, "in"))
}
