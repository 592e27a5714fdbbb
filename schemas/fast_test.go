package schemas

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each Go function standing for a pattern decides exactly what the
// pattern decides, for every code point at the start, inside and at the
// end of a string, and alone.
func TestGoPatternsEqualTheirRegexp(t *testing.T) {
	for p, gp := range goPatterns {
		re := regexp.MustCompile(p)
		check := func(s string) {
			if re.MatchString(s) != gp.match(s) {
				t.Fatalf("%s: %q: regexp %v, Go %v", gp.format, s, re.MatchString(s), gp.match(s))
			}
		}
		check("")
		for r := rune(0); r <= utf8.MaxRune; r++ {
			if r >= 0xD800 && r <= 0xDFFF {
				continue
			}
			c := string(r)
			check(c)
			check("a" + c + "a")
			if r < 0x10000 || r%97 == 0 {
				check(c + "a")
				check("a" + c)
			}
		}
		rng := rand.New(rand.NewPCG(1, 2))
		alphabet := []rune{'a', 'ж', ' ', '\t', '\n', 0x7F, 0x85, 0xA0, 0x200B, 0x200C, 0x2028, 0x3000, 0xFEFF, 0x1F600, utf8.RuneError}
		for range 20000 {
			var b strings.Builder
			for range rng.IntN(6) {
				b.WriteRune(alphabet[rng.IntN(len(alphabet))])
			}
			check(b.String())
		}
		check("\xff") // invalid UTF-8, which CheckJSON refuses anyway
	}
}

// The rewrites of the fast path happened: no discriminator conditional,
// no text pattern, no oneOf of strings and no string enum is left in the
// fast schemas.
func TestFastCopiesAreRewritten(t *testing.T) {
	files := mustBundle(t)
	d := newDocs("1.0.0", files)
	for name, f := range files {
		if name == entryPoint {
			continue
		}
		hoisted := hoistable(f)
		fast, err := fastCopy(d, f, hoisted)
		require.NoError(t, err)
		forEachSchema(fast, "", func(m map[string]any, ptr string) {
			if arr, ok := m["allOf"].([]any); ok {
				for _, e := range arr {
					_, _, _, isRule := parseRule(e)
					assert.False(t, isRule, "%s#%s: conditional left", name, ptr)
				}
			}
			assert.NotEqual(t, textPattern, m["pattern"], "%s#%s", name, ptr)
			if e, ok := m["enum"].([]any); ok {
				_, isStr := e[0].(string)
				assert.False(t, isStr, "%s#%s: string enum left", name, ptr)
			}
			if _, ok := m["oneOf"]; ok {
				t.Errorf("%s#%s: oneOf left", name, ptr)
			}
		})
	}
}

// Dates through the partialDate oneOf, rewritten as a format on the fast
// path: the same verdict and issues as the published schema.
func TestPartialDates(t *testing.T) {
	v := Default()
	base := mustBenchBirth(t)
	valid := []string{"2024-03-02", "2024-02-29", "2000-02-29", "1996", "1996-07", "1800", "2099-12", "1750-01-01", "0001-01-01"}
	invalid := []string{"", "1996-00", "1996-13", "1996-7", "96", "1996-00-00", "1996-07-00", "2023-02-29", "1900-02-29",
		"2024-04-31", "1799", "2100", "2100-01", "1996-07-14T00:00:00Z", " 1996", "1996 ", "1996-07-14 ", "１９９６", "19960714", "1996/07/14"}
	for _, s := range append(valid, invalid...) {
		doc := decodeForTest(t, base)
		set(t, doc, "/payload/mother/person/birthDate", s)
		msg := mustMarshal(t, doc)
		samePublishedVerdict(t, v, s, msg)
		_, err := v.validateSchema(msg)
		assert.Equal(t, slices.Contains(valid, s), err == nil, "%q: %v", s, err)
		if err != nil {
			_, issues := verdictOf(t, nil, err)
			assert.Len(t, issues, 1, "%q: one leaf for a failed oneOf: %v", s, issueStrings(issues))
		}
	}
}

// The branches evaluated directly agree with gojsonschema on every value
// of every fixture and of its mutations, and every branch of bundle 1.0.0
// is simple (so the direct path is the one in use).
func TestSimpleBranchesAgreeWithGojsonschema(t *testing.T) {
	v := Default()
	var values []any
	var collect func(x any)
	collect = func(x any) {
		values = append(values, x)
		switch t := x.(type) {
		case map[string]any:
			for _, y := range t {
				collect(y)
			}
		case []any:
			for _, y := range t {
				collect(y)
			}
		}
	}
	fx := allFixtures(t)
	discriminators := discriminatorValues(v)
	for _, name := range sortedKeys(fx) {
		if !strings.HasPrefix(name, "fixture/") && !strings.HasPrefix(name, "bench/") {
			continue
		}
		base := decodeForTest(t, fx[name])
		collect(base)
		for i, m := range mutations(base, discriminators) {
			if i%5 != 0 {
				continue
			}
			doc := decodeForTest(t, fx[name])
			if m.apply(doc) {
				collect(doc)
			}
		}
	}
	require.Greater(t, len(values), 10000)
	for _, id := range sortedKeys(v.latest.rules) {
		r := v.latest.rules[id]
		for _, b := range []*branch{r.then, r.els} {
			if b == nil {
				continue
			}
			require.NotNil(t, b.simple, "%s: branch not simple", id)
			for _, x := range values {
				res, err := b.schema.Validate(docLoader(numbersAsJSON(x)))
				require.NoError(t, err)
				if res.Valid() != b.simple.holds(x) {
					t.Fatalf("%s: %v: gojsonschema %v, direct %v", id, x, res.Valid(), b.simple.holds(x))
				}
			}
		}
	}
}

// TestSenderCountryRuleInGo: the sender's conditional (SPEC §1, §4: an
// INT- sender has no country, every other sender has one) is a pattern
// discriminator, hoisted out of the fast schema and decided in Go.
func TestSenderCountryRuleInGo(t *testing.T) {
	var found *rule
	for _, r := range Default().latest.rules {
		for _, km := range r.match {
			if km.key == "nodeId" && km.pattern != nil && km.pattern.String() == "^INT-" {
				found = r
			}
		}
	}
	if found == nil {
		t.Fatal("the sender's ^INT- conditional is not hoisted into Go")
	}
	for _, tc := range []struct {
		name   string
		sender any
		holds  bool
	}{
		{"ok/int-without-country", map[string]any{"nodeId": "INT-UNHCR"}, true},
		{"fail/int-with-country", map[string]any{"nodeId": "INT-UNHCR", "country": "TJ"}, false},
		{"ok/member-with-country", map[string]any{"nodeId": "KG-BORDER", "country": "KG"}, true},
		{"fail/member-without-country", map[string]any{"nodeId": "KG-BORDER"}, false},
		{"fail/no-node-id-without-country", map[string]any{}, false},
		{"ok/not-an-object", "INT-UNHCR", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := found.holds(tc.sender); got != tc.holds {
				t.Fatalf("holds = %v, want %v", got, tc.holds)
			}
		})
	}
}
