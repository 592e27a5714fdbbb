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
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/xeipuuv/gojsonschema"
)

// rule is one hoisted discriminator conditional.
type rule struct {
	id       string     // file#pointer of the allOf entry, e.g. "common.schema.json#/definitions/identifier/allOf/9"
	required []string   // if.required
	match    []keyMatch // if.properties
	then     *branch
	els      *branch
}

// branch is the then or else schema of a rule: evaluated directly when it
// is simple (see simpleSchema), by gojsonschema otherwise.
type branch struct {
	schema *gojsonschema.Schema
	simple *simpleSchema
}

func (b *branch) holds(v any) bool {
	if b.simple != nil {
		return b.simple.holds(v)
	}
	res, err := b.schema.Validate(docLoader(v))
	return err == nil && res.Valid()
}

// simpleSchema is a branch made only of `required` and of `properties`
// whose schemas are false, true, or any of pattern, minItems and maxItems:
// what the conditionals of the bundle say. It is evaluated here exactly as
// gojsonschema does: required and properties apply to objects only,
// pattern to strings only (not numbers), minItems and maxItems to arrays
// only, and a false schema fails any value present.
type simpleSchema struct {
	required []string
	props    []simpleProp
}

type simpleProp struct {
	key                string
	forbidden          bool
	pattern            *regexp.Regexp
	minItems, maxItems int // -1: none
}

func parseSimple(schema any) (*simpleSchema, bool) {
	m, ok := schema.(map[string]any)
	if !ok {
		return nil, false
	}
	s := &simpleSchema{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch k {
		case "$comment", "description":
		case "required":
			arr, ok := m[k].([]any)
			if !ok {
				return nil, false
			}
			for _, x := range arr {
				name, ok := x.(string)
				if !ok {
					return nil, false
				}
				s.required = append(s.required, name)
			}
		case "properties":
			props, ok := m[k].(map[string]any)
			if !ok {
				return nil, false
			}
			for _, key := range slices.Sorted(maps.Keys(props)) {
				p := simpleProp{key: key, minItems: -1, maxItems: -1}
				switch ps := props[key].(type) {
				case bool:
					if ps {
						continue
					}
					p.forbidden = true
				case map[string]any:
					for pk, pv := range ps {
						switch pk {
						case "$comment", "description":
						case "pattern":
							str, _ := pv.(string)
							re, err := regexp.Compile(str)
							if err != nil {
								return nil, false
							}
							p.pattern = re
						case "minItems", "maxItems":
							n, _ := pv.(json.Number)
							i, err := strconv.Atoi(string(n))
							if err != nil || i < 0 {
								return nil, false
							}
							if pk == "minItems" {
								p.minItems = i
							} else {
								p.maxItems = i
							}
						default:
							return nil, false
						}
					}
				default:
					return nil, false
				}
				s.props = append(s.props, p)
			}
		default:
			return nil, false
		}
	}
	return s, true
}

func (s *simpleSchema) holds(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return true
	}
	for _, k := range s.required {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	for _, p := range s.props {
		x, ok := m[p.key]
		if !ok {
			continue
		}
		if p.forbidden {
			return false
		}
		if str, ok := x.(string); ok && p.pattern != nil && !p.pattern.MatchString(str) {
			return false
		}
		if arr, ok := x.([]any); ok {
			if (p.minItems >= 0 && len(arr) < p.minItems) || (p.maxItems >= 0 && len(arr) > p.maxItems) {
				return false
			}
		}
	}
	return true
}

type keyMatch struct {
	key     string
	values  []any          // string, bool or nil
	pattern *regexp.Regexp // instead of values: a pattern, which only strings can fail
}

// matches decides one member of the `if` as gojsonschema does.
func (km keyMatch) matches(x any) bool {
	if km.pattern != nil {
		s, isStr := x.(string)
		return !isStr || km.pattern.MatchString(s)
	}
	return slices.ContainsFunc(km.values, func(want any) bool { return scalarEqual(x, want) })
}

// cond evaluates the rule's `if` on a node, as gojsonschema does.
func (r *rule) cond(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return true // required and properties do not apply to non-objects
	}
	for _, k := range r.required {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	for _, km := range r.match {
		x, ok := m[km.key]
		if !ok {
			continue
		}
		if !km.matches(x) {
			return false
		}
	}
	return true
}

// holds reports whether the node satisfies the conditional.
func (r *rule) holds(v any) bool {
	b := r.els
	if r.cond(v) {
		b = r.then
	}
	return b == nil || b.holds(v)
}

func scalarEqual(x, want any) bool {
	switch w := want.(type) {
	case string:
		s, ok := x.(string)
		return ok && s == w
	case bool:
		b, ok := x.(bool)
		return ok && b == w
	case nil:
		return x == nil
	}
	return false
}

// parseRule recognises a discriminator conditional; ok is false for any
// other schema.
func parseRule(entry any) (r *rule, thenSchema, elseSchema any, ok bool) {
	m, isMap := entry.(map[string]any)
	if !isMap {
		return nil, nil, nil, false
	}
	for k := range m {
		switch k {
		case "if", "then", "else", "$comment", "description":
		default:
			return nil, nil, nil, false
		}
	}
	cond, isMap := m["if"].(map[string]any)
	if !isMap {
		return nil, nil, nil, false
	}
	thenSchema, hasThen := m["then"]
	elseSchema, hasElse := m["else"]
	if !hasThen && !hasElse {
		return nil, nil, nil, false
	}
	r = &rule{}
	for k, v := range cond {
		switch k {
		case "required":
			arr, isArr := v.([]any)
			if !isArr {
				return nil, nil, nil, false
			}
			for _, x := range arr {
				s, isStr := x.(string)
				if !isStr {
					return nil, nil, nil, false
				}
				r.required = append(r.required, s)
			}
		case "properties":
			props, isMap := v.(map[string]any)
			if !isMap {
				return nil, nil, nil, false
			}
			for _, key := range slices.Sorted(maps.Keys(props)) {
				p, isMap := props[key].(map[string]any)
				if !isMap || len(p) != 1 {
					return nil, nil, nil, false
				}
				var values []any
				if c, has := p["const"]; has {
					values = []any{c}
				} else if e, has := p["enum"].([]any); has {
					values = e
				} else if pat, has := p["pattern"].(string); has {
					re, err := regexp.Compile(pat)
					if err != nil {
						return nil, nil, nil, false
					}
					r.match = append(r.match, keyMatch{key: key, pattern: re})
					continue
				} else {
					return nil, nil, nil, false
				}
				for _, x := range values {
					switch x.(type) {
					case string, bool, nil:
					default:
						return nil, nil, nil, false
					}
				}
				r.match = append(r.match, keyMatch{key: key, values: values})
			}
		case "$comment", "description":
		default:
			return nil, nil, nil, false
		}
	}
	return r, thenSchema, elseSchema, true
}

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

// ruleNode is the tree of places where hoisted rules apply: a node per
// member name or "every array item", pruned to the branches that hold
// rules.
type ruleNode struct {
	rules []*rule
	props map[string]*ruleNode
	items *ruleNode
}

func (n *ruleNode) prop(k string) *ruleNode {
	if n.props == nil {
		n.props = make(map[string]*ruleNode)
	}
	c := n.props[k]
	if c == nil {
		c = &ruleNode{}
		n.props[k] = c
	}
	return c
}

func (n *ruleNode) item() *ruleNode {
	if n.items == nil {
		n.items = &ruleNode{}
	}
	return n.items
}

// prune drops the branches without rules and reports whether n is empty.
func (n *ruleNode) prune() bool {
	for k, c := range n.props {
		if c.prune() {
			delete(n.props, k)
		}
	}
	if len(n.props) == 0 {
		n.props = nil
	}
	if n.items != nil && n.items.prune() {
		n.items = nil
	}
	return len(n.rules) == 0 && n.props == nil && n.items == nil
}

// eval calls fail for every rule that does not hold, with the reference
// tokens of the node; it stops early when fail returns false.
func (n *ruleNode) eval(v any, path []string, fail func(r *rule, path []string) bool) bool {
	for _, r := range n.rules {
		if !r.holds(v) && !fail(r, path) {
			return false
		}
	}
	if n.props != nil {
		if m, ok := v.(map[string]any); ok {
			for k, c := range n.props {
				if x, ok := m[k]; ok && !c.eval(x, append(path, k), fail) {
					return false
				}
			}
		}
	}
	if n.items != nil {
		if arr, ok := v.([]any); ok {
			for i, x := range arr {
				if !n.items.eval(x, append(path, strconv.Itoa(i)), fail) {
					return false
				}
			}
		}
	}
	return true
}

// holds reports whether every rule of the tree holds on doc.
func (n *ruleNode) holds(doc any) bool {
	if n == nil {
		return true
	}
	return n.eval(doc, nil, func(*rule, []string) bool { return false })
}

// treeBuilder walks published schemas from a message root to place the
// hoisted rules.
type treeBuilder struct {
	d     *docs
	rules map[string]*rule // by file#pointer of the allOf entry
}

const maxSchemaDepth = 64

// apply records the rules of schema (at ptr in file f) at node n.
func (tb *treeBuilder) apply(n *ruleNode, f *schemaFile, ptr string, schema any, depth int) error {
	if depth > maxSchemaDepth {
		return fmt.Errorf("%s#%s: schema nesting deeper than %d (recursive $ref?)", f.name, ptr, maxSchemaDepth)
	}
	m, ok := schema.(map[string]any)
	if !ok {
		return nil // true/false schema
	}
	if ref, ok := m["$ref"].(string); ok {
		// Draft-07 (and gojsonschema): the siblings of $ref are ignored.
		tf, tptr, target, err := tb.d.resolve(f, ref)
		if err != nil {
			return err
		}
		return tb.apply(n, tf, tptr, target, depth+1)
	}
	for _, kw := range slices.Sorted(maps.Keys(m)) {
		v := m[kw]
		at := ptr + "/" + kw
		switch kw {
		case "properties":
			props, _ := v.(map[string]any)
			for _, k := range slices.Sorted(maps.Keys(props)) {
				if err := tb.apply(n.prop(k), f, at+"/"+escapeToken(k), props[k], depth+1); err != nil {
					return err
				}
			}
		case "items":
			if _, isArr := v.([]any); isArr {
				if err := tb.forbid(f, at, v, kw, depth); err != nil {
					return err
				}
				continue
			}
			if err := tb.apply(n.item(), f, at, v, depth+1); err != nil {
				return err
			}
		case "allOf":
			arr, _ := v.([]any)
			for i, entry := range arr {
				eptr := at + "/" + strconv.Itoa(i)
				if r := tb.rules[f.name+".schema.json#"+eptr]; r != nil {
					if !slices.Contains(n.rules, r) {
						n.rules = append(n.rules, r)
					}
					continue
				}
				if err := tb.apply(n, f, eptr, entry, depth+1); err != nil {
					return err
				}
			}
		case "definitions":
			// Not applied by itself.
		case "anyOf", "oneOf", "not", "if", "then", "else", "additionalProperties", "additionalItems",
			"contains", "propertyNames", "patternProperties", "dependencies":
			if err := tb.forbid(f, at, v, kw, depth); err != nil {
				return err
			}
		}
	}
	return nil
}

// forbid fails if a hoisted rule is reachable from v, the value of kw, a
// keyword that applies its schemas conditionally.
func (tb *treeBuilder) forbid(f *schemaFile, ptr string, v any, kw string, depth int) error {
	switch t := v.(type) {
	case []any: // anyOf, oneOf, items as an array
		for i, x := range t {
			if err := tb.forbidSchema(f, ptr+"/"+strconv.Itoa(i), x, kw, depth); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		if kw == "patternProperties" || kw == "dependencies" { // maps of schemas
			for _, k := range slices.Sorted(maps.Keys(t)) {
				if err := tb.forbidSchema(f, ptr+"/"+escapeToken(k), t[k], kw, depth); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return tb.forbidSchema(f, ptr, v, kw, depth)
}

func (tb *treeBuilder) forbidSchema(f *schemaFile, ptr string, schema any, kw string, depth int) error {
	if depth > maxSchemaDepth {
		return fmt.Errorf("%s#%s: schema nesting deeper than %d (recursive $ref?)", f.name, ptr, maxSchemaDepth)
	}
	var err error
	forEachSchema(schema, ptr, func(m map[string]any, p string) {
		if err != nil {
			return
		}
		if arr, ok := m["allOf"].([]any); ok {
			for i := range arr {
				if tb.rules[f.name+".schema.json#"+p+"/allOf/"+strconv.Itoa(i)] != nil {
					err = fmt.Errorf("%s.schema.json#%s/allOf/%d: a conditional reachable through %q cannot be evaluated in Go; restructure the schema", f.name, p, i, kw)
					return
				}
			}
		}
		if ref, ok := m["$ref"].(string); ok {
			tf, tptr, target, rerr := tb.d.resolve(f, ref)
			if rerr != nil {
				err = rerr
				return
			}
			err = tb.forbidSchema(tf, tptr, target, kw, depth+1)
		}
	})
	return err
}
