package schemas

// The Go side of the fast path (fast.go): a hoisted discriminator
// conditional as a rule — its `if` decided as gojsonschema decides it, its
// branches compiled from the published text — and the tree of places in a
// message where each rule applies.

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"

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
