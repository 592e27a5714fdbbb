package schemas

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// docs indexes the files of one bundle by $id, to resolve $refs without
// gojsonschema (the fast-path walker in fast.go follows them itself).
type docs struct {
	version string
	files   map[string]*schemaFile // by name
	byID    map[string]*schemaFile // by $id
}

func newDocs(version string, files map[string]*schemaFile) *docs {
	d := &docs{version: version, files: files, byID: make(map[string]*schemaFile, len(files))}
	for _, f := range files {
		d.byID[f.id] = f
	}
	return d
}

// resolve finds the target of ref, a $ref written in file f. Only
// references into the bundle resolve; anything else is an error (schemas
// are never fetched).
func (d *docs) resolve(f *schemaFile, ref string) (*schemaFile, string, any, error) {
	abs, err := absRef(f.id, ref)
	if err != nil {
		return nil, "", nil, err
	}
	u, frag, _ := strings.Cut(abs, "#")
	target := d.byID[u]
	if target == nil {
		return nil, "", nil, fmt.Errorf("$ref %q in %s: no such schema in bundle %s", ref, f.name, d.version)
	}
	node, err := pointerGet(target.doc, frag)
	if err != nil {
		return nil, "", nil, fmt.Errorf("$ref %q in %s: %w", ref, f.name, err)
	}
	return target, frag, node, nil
}

// absRef resolves ref against the $id base (RFC 3986 §5.2), keeping the
// fragment as a JSON Pointer.
func absRef(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("$ref %q: %w", ref, err)
	}
	abs := b.ResolveReference(r)
	frag := abs.Fragment
	abs.Fragment = ""
	return abs.String() + "#" + frag, nil
}

// pointerGet evaluates an RFC 6901 JSON Pointer ("" is the whole document).
func pointerGet(doc any, ptr string) (any, error) {
	if ptr == "" {
		return doc, nil
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, fmt.Errorf("fragment %q is not a JSON Pointer", ptr)
	}
	cur := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch t := cur.(type) {
		case map[string]any:
			v, ok := t[tok]
			if !ok {
				return nil, fmt.Errorf("pointer %q: no member %q", ptr, tok)
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(t) {
				return nil, fmt.Errorf("pointer %q: bad index %q", ptr, tok)
			}
			cur = t[i]
		default:
			return nil, fmt.Errorf("pointer %q: cannot descend into a scalar", ptr)
		}
	}
	return cur, nil
}

// absolutize rewrites every $ref of a schema (a copy, modified in place) to
// an absolute reference, so the schema can be compiled away from its file.
func absolutize(schema any, base string) error {
	var err error
	forEachSchema(schema, "", func(m map[string]any, _ string) {
		if ref, ok := m["$ref"].(string); ok && err == nil {
			var abs string
			abs, err = absRef(base, ref)
			m["$ref"] = abs
		}
	})
	return err
}

// Schema keywords of draft-07 whose values are schemas, by shape.
var (
	kwSchemaMap   = []string{"properties", "patternProperties", "definitions", "dependencies"}
	kwSchema      = []string{"additionalProperties", "additionalItems", "items", "contains", "propertyNames", "not", "if", "then", "else"}
	kwSchemaArray = []string{"allOf", "anyOf", "oneOf", "items"}
)

// forEachSchema calls fn for every schema object in schema (itself
// included), with its JSON Pointer relative to schema. It follows the
// draft-07 keywords only, never enum/const/default values, and not $refs.
func forEachSchema(schema any, ptr string, fn func(m map[string]any, ptr string)) {
	m, ok := schema.(map[string]any)
	if !ok {
		return
	}
	fn(m, ptr)
	for _, kw := range kwSchemaMap {
		if sub, ok := m[kw].(map[string]any); ok {
			for k, v := range sub {
				forEachSchema(v, ptr+"/"+kw+"/"+escapeToken(k), fn)
			}
		}
	}
	for _, kw := range kwSchema {
		if v, ok := m[kw]; ok {
			forEachSchema(v, ptr+"/"+kw, fn)
		}
	}
	for _, kw := range kwSchemaArray {
		if arr, ok := m[kw].([]any); ok {
			for i, v := range arr {
				forEachSchema(v, ptr+"/"+kw+"/"+strconv.Itoa(i), fn)
			}
		}
	}
}

// escapeToken escapes one RFC 6901 reference token.
func escapeToken(t string) string {
	if !strings.ContainsAny(t, "~/") {
		return t
	}
	return strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
}
