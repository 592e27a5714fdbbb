package schemas

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/xeipuuv/gojsonschema"
)

// Validator holds one compiled schema set per supported bundle version. It
// is immutable and safe for concurrent use.
type Validator struct {
	bundles  map[string]*compiledBundle
	versions []string // oldest first
	latest   *compiledBundle
	infos    []SchemaInfo
	names    map[string]string // member names the bundles define, interned by the decoder

	quotedVersions string // `"1.0.0", "1.1.0"`, as gojsonschema lists enum values
}

// compiledBundle is the compiled schema set of one bundle version.
type compiledBundle struct {
	version string
	docs    *docs

	// published is message.schema.json as published, dispatch included. The
	// fast path never uses it; the tests prove the per-type schemas agree
	// with it.
	published *gojsonschema.Schema
	// envelope is message.schema.json without the dispatch: what the
	// published schema checks of a message whose messageType is not known.
	envelope *gojsonschema.Schema
	types    map[string]*typeSchema // by messageType
	rules    map[string]*rule       // every hoisted rule, by id
}

// typeSchema is the compiled schema of one messageType: the envelope and
// the type's own schema, which is what message.schema.json applies to a
// message of that type.
type typeSchema struct {
	messageType string
	file        string
	exact       *gojsonschema.Schema // as published: computes the issues
	fast        *gojsonschema.Schema // without the hoisted conditionals
	rules       *ruleNode            // the hoisted conditionals, where they apply (nil: none)
}

var (
	defaultOnce      sync.Once
	defaultValidator *Validator
	defaultErr       error
)

// Default returns the Validator of the embedded bundles, compiled on first
// use. It panics only if an embedded bundle is broken, which the package's
// tests rule out.
func Default() *Validator {
	defaultOnce.Do(func() {
		defaultValidator, defaultErr = compileFS(bundleFS)
	})
	if defaultErr != nil {
		panic(defaultErr)
	}
	return defaultValidator
}

// Versions lists the supported bundle versions, oldest first.
func (v *Validator) Versions() []string { return slices.Clone(v.versions) }

// Schemas lists every schema file of every supported bundle, by version then
// name.
func (v *Validator) Schemas() []SchemaInfo { return slices.Clone(v.infos) }

// Schema returns the published text of one schema file (name without
// ".schema.json"), as embedded.
func (v *Validator) Schema(version, name string) ([]byte, bool) {
	b := v.bundles[version]
	if b == nil {
		return nil, false
	}
	f := b.docs.files[name]
	if f == nil {
		return nil, false
	}
	return slices.Clone(f.raw), true
}

// compileFS compiles every bundle of fsys (one directory per version).
func compileFS(fsys fs.FS) (*Validator, error) {
	setLocale()
	versions, err := bundleVersions(fsys)
	if err != nil {
		return nil, err
	}
	if len(versions) == 0 {
		return nil, errors.New("schemas: no schema bundle")
	}
	v := &Validator{bundles: make(map[string]*compiledBundle), versions: versions, names: make(map[string]string)}
	for _, version := range versions {
		files, err := loadBundle(fsys, version)
		if err != nil {
			return nil, err
		}
		b, err := compileBundle(version, files)
		if err != nil {
			return nil, fmt.Errorf("schemas: bundle %s: %w", version, err)
		}
		v.bundles[version] = b
		memberNames(files, v.names)
		v.latest = b
		for _, name := range slices.Sorted(maps.Keys(files)) {
			v.infos = append(v.infos, SchemaInfo{Version: version, Name: name, ID: files[name].id})
		}
	}
	quoted := make([]string, len(versions))
	for i, s := range versions {
		quoted[i] = strconv.Quote(s)
	}
	v.quotedVersions = strings.Join(quoted, ", ")
	return v, nil
}

// pool is a gojsonschema schema loader holding private copies of a bundle's
// files (gojsonschema rewrites $refs in place), from which roots are
// compiled under names of their own.
type pool struct {
	sl    *gojsonschema.SchemaLoader
	base  string // IDBase + version + "/"
	count int
}

func newPool(version string, docs map[string]map[string]any) (*pool, error) {
	sl := gojsonschema.NewSchemaLoader()
	sl.Draft = gojsonschema.Draft7
	sl.AutoDetect = false
	for _, name := range slices.Sorted(maps.Keys(docs)) {
		if err := sl.AddSchemas(docLoader(docs[name])); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return &pool{sl: sl, base: IDBase + version + "/"}, nil
}

// compile compiles root (a schema whose $refs are absolute) under a name
// that is unique in the pool; the name only serves the pool's bookkeeping.
func (p *pool) compile(name string, root map[string]any) (*gojsonschema.Schema, error) {
	p.count++
	url := fmt.Sprintf("%s_compiled/%d/%s", p.base, p.count, name)
	if err := p.sl.AddSchema(url, docLoader(root)); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s, err := p.sl.Compile(refLoader(url))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// dispatch is one entry of the allOf dispatcher of message.schema.json.
type dispatch struct {
	messageType string
	ref         string
}

// dispatchTable reads the dispatcher of message.schema.json:
// allOf: [{if: {required: [messageType], properties: {messageType: {const: X}}}, then: {$ref: …}}].
func dispatchTable(msg *schemaFile) ([]dispatch, error) {
	arr, _ := msg.doc["allOf"].([]any)
	var table []dispatch
	for i, entry := range arr {
		r, thenSchema, elseSchema, ok := parseRule(entry)
		then, _ := thenSchema.(map[string]any)
		ref, _ := then["$ref"].(string)
		if !ok || elseSchema != nil || len(then) != 1 || ref == "" || len(r.match) != 1 ||
			r.match[0].key != "messageType" || len(r.match[0].values) != 1 ||
			!slices.Equal(r.required, []string{"messageType"}) {
			return nil, fmt.Errorf("message.schema.json#/allOf/%d is not a messageType dispatch entry", i)
		}
		mt, isStr := r.match[0].values[0].(string)
		if !isStr {
			return nil, fmt.Errorf("message.schema.json#/allOf/%d: messageType is not a string", i)
		}
		table = append(table, dispatch{messageType: mt, ref: ref})
	}
	if len(table) == 0 {
		return nil, errors.New("message.schema.json has no dispatch")
	}
	return table, nil
}

func compileBundle(version string, files map[string]*schemaFile) (*compiledBundle, error) {
	d := newDocs(version, files)
	msg := files[entryPoint]
	table, err := dispatchTable(msg)
	if err != nil {
		return nil, err
	}

	// The hoisted conditionals of every file but the entry point (whose
	// only conditionals are the dispatch, replaced by Go below).
	hoisted := make(map[string]map[string]bool)
	exactDocs := make(map[string]map[string]any)
	fastDocs := make(map[string]map[string]any)
	for name, f := range files {
		if name == entryPoint {
			continue // compiled as a root below
		}
		hoisted[name] = hoistable(f)
		exactDocs[name] = deepCopy(f.doc).(map[string]any)
		if fastDocs[name], err = fastCopy(d, f, hoisted[name]); err != nil {
			return nil, err
		}
	}
	exact, err := newPool(version, exactDocs)
	if err != nil {
		return nil, err
	}
	fast, err := newPool(version, fastDocs)
	if err != nil {
		return nil, err
	}

	b := &compiledBundle{version: version, docs: d, types: make(map[string]*typeSchema), rules: make(map[string]*rule)}

	// message.schema.json as published.
	published := deepCopy(msg.doc).(map[string]any)
	delete(published, "$id")
	if err := absolutize(published, msg.id); err != nil {
		return nil, err
	}
	if b.published, err = exact.compile("message", published); err != nil {
		return nil, err
	}

	// The envelope alone.
	envelope := deepCopy(published).(map[string]any)
	delete(envelope, "allOf")
	if b.envelope, err = exact.compile("envelope", envelope); err != nil {
		return nil, err
	}

	// The hoisted rules, each branch compiled from its published text.
	for _, name := range slices.Sorted(maps.Keys(hoisted)) {
		f := files[name]
		for _, ptr := range slices.Sorted(maps.Keys(hoisted[name])) {
			entry, err := pointerGet(f.doc, ptr)
			if err != nil {
				return nil, err
			}
			r, thenSchema, elseSchema, _ := parseRule(entry)
			r.id = name + ".schema.json#" + ptr
			if r.then, err = compileBranch(exact, f, r.id+"/then", thenSchema); err != nil {
				return nil, err
			}
			if r.els, err = compileBranch(exact, f, r.id+"/else", elseSchema); err != nil {
				return nil, err
			}
			b.rules[r.id] = r
		}
	}

	// One schema per messageType: the envelope and a $ref to the type's
	// schema, which is exactly what the dispatch applies once messageType
	// is known.
	tb := &treeBuilder{d: d, rules: b.rules}
	for _, e := range table {
		if b.types[e.messageType] != nil {
			return nil, fmt.Errorf("message.schema.json dispatches %q twice", e.messageType)
		}
		root := deepCopy(envelope).(map[string]any)
		abs, err := absRef(msg.id, e.ref)
		if err != nil {
			return nil, err
		}
		root["allOf"] = []any{map[string]any{"$ref": abs}}
		ts := &typeSchema{messageType: e.messageType, file: strings.TrimSuffix(strings.TrimPrefix(abs, IDBase+version+"/"), ".schema.json#")}
		if ts.exact, err = exact.compile(e.messageType, deepCopy(root).(map[string]any)); err != nil {
			return nil, err
		}
		fastRoot := deepCopy(root).(map[string]any)
		enumsAsPatterns(fastRoot)
		if ts.fast, err = fast.compile(e.messageType, fastRoot); err != nil {
			return nil, err
		}
		ts.rules = &ruleNode{}
		// Walk the published root: its $refs are absolute, so any file
		// serves as the base.
		if err := tb.apply(ts.rules, msg, "", root, 0); err != nil {
			return nil, fmt.Errorf("%s: %w", e.messageType, err)
		}
		if ts.rules.prune() {
			ts.rules = nil
		}
		b.types[e.messageType] = ts
	}
	return b, nil
}

// compileBranch compiles the then or else schema of a hoisted rule.
func compileBranch(p *pool, f *schemaFile, name string, schema any) (*branch, error) {
	if schema == nil {
		return nil, nil
	}
	b := &branch{}
	b.simple, _ = parseSimple(schema)
	var root map[string]any
	switch s := schema.(type) {
	case map[string]any:
		root = deepCopy(s).(map[string]any)
	case bool:
		// A boolean schema as a root: wrap it so gojsonschema accepts it.
		root = map[string]any{"allOf": []any{s}}
	default:
		return nil, fmt.Errorf("%s: not a schema", name)
	}
	if err := absolutize(root, f.id); err != nil {
		return nil, err
	}
	var err error
	b.schema, err = p.compile(name, root)
	return b, err
}

// docLoader hands an already decoded document (numbers as json.Number) to
// gojsonschema. gojsonschema.NewGoLoader would json.Marshal it and decode
// it again on every validation.
func docLoader(doc any) gojsonschema.JSONLoader {
	return &decodedLoader{JSONLoader: nilGoLoader, doc: doc}
}

var nilGoLoader = gojsonschema.NewGoLoader(nil)

type decodedLoader struct {
	gojsonschema.JSONLoader // JsonReference ("#") and JsonSource
	doc                     any
}

func (l *decodedLoader) LoadJSON() (any, error)                        { return l.doc, nil }
func (l *decodedLoader) LoaderFactory() gojsonschema.JSONLoaderFactory { return offlineFactory{} }

// refLoader names a schema already in a pool, for SchemaLoader.Compile. If
// gojsonschema ever needed to load it (or any $ref target missing from the
// pool), the offline factory refuses: schemas are never fetched.
func refLoader(url string) gojsonschema.JSONLoader {
	return &offlineLoader{JSONLoader: gojsonschema.NewReferenceLoader(url), source: url}
}

type offlineLoader struct {
	gojsonschema.JSONLoader // JsonReference and JsonSource
	source                  string
}

func (l *offlineLoader) LoadJSON() (any, error) {
	return nil, fmt.Errorf("schema %q is not in the embedded bundle (schemas are never fetched)", l.source)
}
func (l *offlineLoader) LoaderFactory() gojsonschema.JSONLoaderFactory { return offlineFactory{} }

type offlineFactory struct{}

func (offlineFactory) New(source string) gojsonschema.JSONLoader { return refLoader(source) }
