package schemas

// The fast path.
//
// gojsonschema evaluates every `if` of every conditional and, when an `if`
// fails (as 9 of the 10 scheme rules of every identifier do on a valid
// message), builds a complete error for it, formatted through text/template,
// before throwing it away. Those conditionals are most of the cost of
// validating a valid message.
//
// So each message type is compiled twice from the same embedded files:
//
//   - exact: the published schema of the type, unchanged. It decides nothing
//     on the hot path but computes every issue of a rejected message.
//   - fast: the same schema with every "discriminator conditional" removed,
//     plus, for each removed conditional, a rule evaluated in Go at every
//     place of the message where the published schema applies it.
//
// A discriminator conditional is an allOf entry of the form
//
//	{"if": {"required": [K…], "properties": {K: {"const": v} | {"enum": [v…]} | {"pattern": p}}},
//	 "then": S1, "else": S2}
//
// with string, boolean or null values. Go decides the `if` exactly as
// gojsonschema does (an object: every required member present and every
// listed member that is present equal to an allowed value, or, for a
// pattern, either not a string or a string the RE2 pattern matches;
// anything else than an object: vacuously true) and validates the node against S1 or S2,
// each compiled from the published text with the exact schemas. Nothing is
// weakened: a conditional leaves the fast schema only together with the Go
// rule that enforces it.
//
// The places where a conditional applies are found by walking the published
// schema from the message root through the applicators that always apply
// ($ref, allOf, properties, items). A conditional reachable only through a
// conditional applicator (anyOf, oneOf, not, if/then/else, …) is not hoisted
// but makes compilation fail, so the bundle author restructures it; the
// tests prove the bundle compiles.
//
// When the fast path rejects a message, Validate computes the issues with
// the exact schema, so issues never depend on the fast path. If the exact
// schema accepts what the fast path rejected (a bug), Validate fails closed
// with an internal error.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/xeipuuv/gojsonschema"
)

// hoistable finds the discriminator conditionals of a file, by the pointer
// of their allOf entry.
func hoistable(f *schemaFile) map[string]bool {
	found := make(map[string]bool)
	forEachSchema(f.doc, "", func(m map[string]any, ptr string) {
		arr, _ := m["allOf"].([]any)
		for i, entry := range arr {
			if _, _, _, ok := parseRule(entry); ok {
				found[ptr+"/allOf/"+strconv.Itoa(i)] = true
			}
		}
	})
	return found
}

// fastCopy returns the fast variant of a file's schema: a deep copy
// without the hoisted allOf entries, with string enums as patterns and
// oneOfs of string alternatives as formats.
func fastCopy(d *docs, f *schemaFile, hoisted map[string]bool) (map[string]any, error) {
	doc := deepCopy(f.doc).(map[string]any)
	if err := oneOfsAsFormats(d, f, doc); err != nil {
		return nil, err
	}
	if err := patternsAsFormats(doc); err != nil {
		return nil, err
	}
	enumsAsPatterns(doc)
	forEachSchema(doc, "", func(m map[string]any, ptr string) {
		arr, _ := m["allOf"].([]any)
		if arr == nil {
			return
		}
		var kept []any
		for i, entry := range arr {
			if !hoisted[ptr+"/allOf/"+strconv.Itoa(i)] {
				kept = append(kept, entry)
			}
		}
		if len(kept) == 0 {
			delete(m, "allOf")
		} else if len(kept) != len(arr) {
			m["allOf"] = kept
		}
	})
	return doc, nil
}

// enumsAsPatterns rewrites, in place, every enum or const of strings into
// the equivalent anchored pattern of quoted alternatives:
//
//	{"type": "string", "enum": ["a", "b"]}  →  {"type": "string", "pattern": "^(?:a|b)$"}
//
// gojsonschema checks an enum by marshalling the value to JSON, decoding
// and marshalling it again, then scanning the list; the RE2 match costs a
// few tens of nanoseconds and no allocation. The verdict is the same: a
// string matches iff it equals one of the values (Go's $ matches only at
// the end of the text), and anything else is not a string, which both the
// enum and the type keyword reject. A schema that already has a pattern,
// or a type other than string, is left alone.
func enumsAsPatterns(schema any) {
	forEachSchema(schema, "", func(m map[string]any, _ string) {
		if _, has := m["pattern"]; has {
			return
		}
		if t, has := m["type"]; has && t != "string" {
			return
		}
		var values []any
		if e, ok := m["enum"].([]any); ok {
			if _, has := m["const"]; has {
				return
			}
			values = e
		} else if c, ok := m["const"].(string); ok {
			values = []any{c}
		} else {
			return
		}
		alts := make([]string, 0, len(values))
		for _, v := range values {
			s, ok := v.(string)
			if !ok {
				return
			}
			alts = append(alts, regexp.QuoteMeta(s))
		}
		if len(alts) == 0 {
			return
		}
		delete(m, "enum")
		delete(m, "const")
		m["type"] = "string"
		m["pattern"] = "^(?:" + strings.Join(alts, "|") + ")$"
	})
}

// goPatterns are Go functions that decide exactly what a pattern of the
// bundle decides, for patterns that are checked on most strings of a
// message and that RE2 cannot match in one pass. The tests compare each
// with its regular expression on every code point in every position.
var goPatterns = map[string]struct {
	format string
	match  func(string) bool
}{
	textPattern: {"crvsx-text", isText},
}

// textPattern is the pattern of the text and namePart definitions: no C0
// or DEL control, no white space (nor U+0085, a C1 control that is white
// space) at either end.
const textPattern = `^[^\x00-\x1F\x7F\x{85}\p{Z}]([^\x00-\x1F\x7F]*[^\x00-\x1F\x7F\x{85}\p{Z}])?$`

func isText(s string) bool {
	if s == "" {
		return false
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if !textEdge(first) || !textEdge(last) {
		return false
	}
	for i := 0; i < len(s); i++ { // controls are single bytes in UTF-8
		if c := s[i]; c < 0x20 || c == 0x7F {
			return false
		}
	}
	return true
}

func textEdge(r rune) bool {
	return r >= 0x20 && r != 0x7F && r != 0x85 && !unicode.Is(unicode.Z, r)
}

type funcChecker func(string) bool

func (f funcChecker) IsFormat(input any) bool {
	s, ok := input.(string)
	return ok && f(s)
}

// patternsAsFormats rewrites, in place, each pattern that goPatterns
// implements into the format whose checker is that function (only where
// the schema has no format already).
func patternsAsFormats(doc map[string]any) error {
	for _, gp := range goPatterns {
		gojsonschema.FormatCheckers.Add(gp.format, funcChecker(gp.match))
		if !gojsonschema.FormatCheckers.Has(gp.format) {
			// An unknown format passes everything: never compile without it.
			return fmt.Errorf("format %q did not register", gp.format)
		}
	}
	forEachSchema(doc, "", func(m map[string]any, _ string) {
		p, _ := m["pattern"].(string)
		gp, ok := goPatterns[p]
		if _, has := m["format"]; !ok || has {
			return
		}
		delete(m, "pattern")
		m["format"] = gp.format
	})
	return nil
}

// oneOfsAsFormats rewrites, in place, every schema that is only a oneOf of
// string alternatives (each a type:string schema with nothing but pattern,
// format, minLength and maxLength, possibly through a $ref) into
//
//	{"type": "string", "format": "crvsx-oneof …"}
//
// with a format checker, registered with gojsonschema, that counts the
// alternatives a string satisfies, checking each keyword as gojsonschema
// does (RE2 pattern, gojsonschema's own format checkers, lengths in code
// points), and accepts exactly one. Anything but a string fails both
// forms. gojsonschema evaluates every alternative of a oneOf and builds an
// error for each one that fails, so a valid partialDate (a full date fails
// the year-month and year alternatives) cost two discarded errors.
func oneOfsAsFormats(d *docs, f *schemaFile, doc map[string]any) error {
	var err error
	forEachSchema(doc, "", func(m map[string]any, ptr string) {
		alts, ok := m["oneOf"].([]any)
		if !ok || err != nil {
			return
		}
		for k := range m {
			switch k {
			case "oneOf", "description", "$comment", "title":
			default:
				return
			}
		}
		checker := oneOfChecker{}
		for _, a := range alts {
			alt, ok, aerr := stringAlternative(d, f, a)
			if aerr != nil {
				err = aerr
				return
			}
			if !ok {
				return
			}
			checker.alts = append(checker.alts, alt)
		}
		name := "crvsx-oneof " + IDBase + d.version + "/" + f.name + ".schema.json#" + ptr
		gojsonschema.FormatCheckers.Add(name, checker)
		if !gojsonschema.FormatCheckers.Has(name) {
			err = fmt.Errorf("format %q did not register", name)
			return
		}
		delete(m, "oneOf")
		m["type"] = "string"
		m["format"] = name
	})
	return err
}

// stringAlternative reads a oneOf alternative that only constrains
// strings; ok is false for any other schema.
func stringAlternative(d *docs, f *schemaFile, a any) (stringAlt, bool, error) {
	alt := stringAlt{minLen: -1, maxLen: -1}
	m, isMap := a.(map[string]any)
	if !isMap {
		return alt, false, nil
	}
	if ref, has := m["$ref"].(string); has {
		tf, _, target, err := d.resolve(f, ref)
		if err != nil {
			return alt, false, err
		}
		return stringAlternative(d, tf, target)
	}
	if m["type"] != "string" {
		return alt, false, nil
	}
	for k, v := range m {
		switch k {
		case "type", "description", "$comment", "title":
		case "pattern":
			s, _ := v.(string)
			re, err := regexp.Compile(s)
			if err != nil {
				return alt, false, fmt.Errorf("pattern %q: %w", s, err)
			}
			alt.pattern = re
		case "format":
			s, isStr := v.(string)
			if !isStr || !gojsonschema.FormatCheckers.Has(s) {
				return alt, false, nil
			}
			alt.format = s
		case "minLength", "maxLength":
			n, isNum := v.(json.Number)
			i, err := strconv.Atoi(string(n))
			if !isNum || err != nil || i < 0 {
				return alt, false, nil
			}
			if k == "minLength" {
				alt.minLen = i
			} else {
				alt.maxLen = i
			}
		default:
			return alt, false, nil
		}
	}
	return alt, true, nil
}

type stringAlt struct {
	pattern        *regexp.Regexp
	format         string
	minLen, maxLen int // -1: none
}

func (a stringAlt) match(s string) bool {
	if a.minLen >= 0 || a.maxLen >= 0 {
		n := utf8.RuneCountInString(s)
		if (a.minLen >= 0 && n < a.minLen) || (a.maxLen >= 0 && n > a.maxLen) {
			return false
		}
	}
	if a.pattern != nil && !a.pattern.MatchString(s) {
		return false
	}
	return a.format == "" || gojsonschema.FormatCheckers.IsFormat(a.format, s)
}

type oneOfChecker struct{ alts []stringAlt }

// IsFormat implements gojsonschema.FormatChecker: exactly one alternative.
func (c oneOfChecker) IsFormat(input any) bool {
	s, ok := input.(string)
	if !ok {
		return false
	}
	n := 0
	for _, a := range c.alts {
		if a.match(s) {
			n++
		}
	}
	return n == 1
}
