package schemas

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ecrn/crvsx/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xeipuuv/gojsonschema"
)

var bundleNames = []string{
	"adoption", "annulment", "common", "death", "divorce", "fetal-death", "judicial-separation",
	"legitimation", "live-birth", "marriage", "message", "receipt", "recognition",
	"record-cancellation", "status-attestation", "status-query",
}

func mustBundle(t *testing.T) map[string]*schemaFile {
	t.Helper()
	files, err := loadBundle(bundleFS, "1.0.0")
	require.NoError(t, err)
	return files
}

func TestEmbeddedBundleCompiles(t *testing.T) {
	v, err := compileFS(bundleFS)
	require.NoError(t, err)
	assert.Equal(t, []string{"1.0.0"}, v.Versions())
	assert.NotPanics(t, func() { Default() })
	assert.Contains(t, Default().Versions(), protocol.SchemaVersion)
}

func TestSchemaIDs(t *testing.T) {
	files := mustBundle(t)
	assert.Equal(t, bundleNames, slices.Sorted(maps.Keys(files)))
	for name, f := range files {
		assert.Equal(t, "https://crvs.example.org/schemas/1.0.0/"+name+".schema.json", f.doc["$id"], name)
		assert.Equal(t, "http://json-schema.org/draft-07/schema#", f.doc["$schema"], name)
	}
	var infos []string
	for _, si := range Default().Schemas() {
		assert.Equal(t, IDBase+si.Version+"/"+si.Name+".schema.json", si.ID)
		infos = append(infos, si.Name)
	}
	assert.Equal(t, bundleNames, infos)
	raw, ok := Default().Schema("1.0.0", "common")
	require.True(t, ok)
	assert.True(t, json.Valid(raw))
	_, ok = Default().Schema("9.9.9", "common")
	assert.False(t, ok)
}

// TestStrictObjects: additionalProperties is false on every object schema.
// A schema that lists properties without being an object schema is a
// sub-schema of a conditional (if/then/else/anyOf/allOf) applied to an
// object whose own schema is strict and defines those properties.
func TestStrictObjects(t *testing.T) {
	for name, f := range mustBundle(t) {
		var check func(v any, ptr string, strict map[string]any)
		check = func(v any, ptr string, strict map[string]any) {
			m, ok := v.(map[string]any)
			if !ok {
				return
			}
			props, hasProps := m["properties"].(map[string]any)
			if m["type"] == "object" {
				assert.Equal(t, false, m["additionalProperties"], "%s#%s: object without additionalProperties:false", name, ptr)
				strict = props
			} else if hasProps {
				require.NotNil(t, strict, "%s#%s: properties outside an object schema", name, ptr)
				for k := range props {
					assert.Contains(t, strict, k, "%s#%s: conditional names %q, which the object does not define", name, ptr, k)
				}
			} else if _, has := m["additionalProperties"]; has {
				t.Errorf("%s#%s: additionalProperties without type object", name, ptr)
			}
			for _, kw := range kwSchemaMap {
				sub, _ := m[kw].(map[string]any)
				for k, x := range sub {
					check(x, ptr+"/"+kw+"/"+k, nil)
				}
			}
			for _, kw := range kwSchema {
				if x, ok := m[kw]; ok {
					inherit := strict
					if kw == "items" || kw == "additionalProperties" || kw == "additionalItems" || kw == "contains" || kw == "propertyNames" {
						inherit = nil
					}
					check(x, ptr+"/"+kw, inherit)
				}
			}
			for _, kw := range kwSchemaArray {
				arr, _ := m[kw].([]any)
				for i, x := range arr {
					inherit := strict
					if kw == "items" {
						inherit = nil
					}
					check(x, ptr+"/"+kw+"/"+strconv.Itoa(i), inherit)
				}
			}
		}
		check(f.doc, "", nil)
	}
}

// draft07Keywords are the keywords (and annotations) a schema object may
// use; anything else is a typo that gojsonschema would silently ignore.
var draft07Keywords = map[string]bool{
	"$schema": true, "$id": true, "$ref": true, "$comment": true, "title": true, "description": true,
	"default": true, "examples": true, "definitions": true,
	"type": true, "enum": true, "const": true,
	"multipleOf": true, "maximum": true, "exclusiveMaximum": true, "minimum": true, "exclusiveMinimum": true,
	"maxLength": true, "minLength": true, "pattern": true, "format": true,
	"items": true, "additionalItems": true, "maxItems": true, "minItems": true, "uniqueItems": true, "contains": true,
	"maxProperties": true, "minProperties": true, "required": true, "properties": true, "patternProperties": true,
	"additionalProperties": true, "dependencies": true, "propertyNames": true,
	"if": true, "then": true, "else": true, "allOf": true, "anyOf": true, "oneOf": true, "not": true,
}

func TestOnlyDraft07Keywords(t *testing.T) {
	for name, f := range mustBundle(t) {
		forEachSchema(f.doc, "", func(m map[string]any, ptr string) {
			for k := range m {
				assert.True(t, draft07Keywords[k], "%s#%s: unknown keyword %q", name, ptr, k)
			}
			if _, ok := m["$ref"]; ok {
				for k := range m {
					assert.Contains(t, []string{"$ref", "$comment", "description"}, k,
						"%s#%s: %q beside $ref is ignored by draft-07; use allOf", name, ptr, k)
				}
			}
			if f, ok := m["format"]; ok {
				assert.True(t, gojsonschema.FormatCheckers.Has(f.(string)), "%s#%s: unknown format %v passes everything", name, ptr, f)
				assert.Contains(t, []any{"date", "date-time"}, f, "%s#%s: format without a pattern beside it", name, ptr)
				assert.Contains(t, m, "pattern", "%s#%s: gojsonschema's %v format is lax; add the pattern", name, ptr, f)
			}
		})
	}
}

// TestMetaschema validates every file against the draft-07 metaschema
// (which gojsonschema carries; nothing is fetched).
func TestMetaschema(t *testing.T) {
	meta, err := gojsonschema.NewSchema(gojsonschema.NewReferenceLoader("http://json-schema.org/draft-07/schema#"))
	require.NoError(t, err)
	for name, f := range mustBundle(t) {
		r, err := meta.Validate(gojsonschema.NewBytesLoader(f.raw))
		require.NoError(t, err)
		assert.True(t, r.Valid(), "%s: %v", name, r.Errors())
	}
}

func TestRefsResolveInsideTheBundle(t *testing.T) {
	files := mustBundle(t)
	d := newDocs("1.0.0", files)
	n := 0
	for _, f := range files {
		forEachSchema(f.doc, "", func(m map[string]any, ptr string) {
			if ref, ok := m["$ref"].(string); ok {
				_, _, target, err := d.resolve(f, ref)
				assert.NoError(t, err, "%s#%s", f.name, ptr)
				assert.NotNil(t, target)
				n++
			}
		})
	}
	assert.Greater(t, n, 100)
}

func TestCodeLists(t *testing.T) {
	defs := mustBundle(t)["common"].doc["definitions"].(map[string]any)
	list := func(name string) []string {
		var out []string
		for _, x := range defs[name].(map[string]any)["enum"].([]any) {
			out = append(out, x.(string))
		}
		return out
	}
	countries := list("countryCode")
	assert.Len(t, countries, 249)
	assert.True(t, slices.IsSorted(countries))
	assert.Len(t, slices.Compact(slices.Clone(countries)), 249)
	for _, c := range []string{"TJ", "TR", "KZ", "UZ", "KG", "AF", "AZ", "GE", "AM", "MN", "RU", "UA", "SS", "CW"} {
		assert.Contains(t, countries, c)
	}
	for _, c := range []string{"SU", "YU", "CS", "DD", "XK", "EU"} {
		assert.NotContains(t, countries, c, "not an ISO 3166-1 code in use")
	}
	former := list("formerCountryCode")
	assert.Len(t, former, 31)
	for _, c := range []string{"SUHH", "YUCS", "CSHH", "DDDE", "CSXX", "ANHH"} {
		assert.Contains(t, former, c)
	}
	scripts := list("scriptCode")
	assert.Len(t, scripts, 180)
	for _, c := range []string{"Latn", "Cyrl", "Arab", "Mong", "Armn", "Geor", "Hebr", "Zyyy"} {
		assert.Contains(t, scripts, c)
	}
	assert.NotContains(t, scripts, "Qaaa", "private-use codes are not interoperable")

	text, namePart := defs["text"].(map[string]any), defs["namePart"].(map[string]any)
	assert.Equal(t, text["pattern"], namePart["pattern"], "namePart is text with a lower maxLength")
}

func TestMessageTypes(t *testing.T) {
	files := mustBundle(t)
	table, err := dispatchTable(files["message"])
	require.NoError(t, err)
	var dispatched []string
	for _, e := range table {
		dispatched = append(dispatched, e.messageType)
	}
	assert.Equal(t, protocol.MessageTypes, dispatched, "the dispatch follows the data dictionary's order")
	props := files["message"].doc["properties"].(map[string]any)
	var enum []string
	for _, x := range props["messageType"].(map[string]any)["enum"].([]any) {
		enum = append(enum, x.(string))
	}
	assert.Equal(t, protocol.MessageTypes, enum)
	assert.Equal(t, []any{"1.0.0"}, props["schemaVersion"].(map[string]any)["enum"])

	// Every type's schema lists exactly the envelope's members, and pins
	// its own messageType.
	envelope := slices.Sorted(maps.Keys(props))
	for _, e := range table {
		ts := Default().latest.types[e.messageType]
		f := files[ts.file]
		require.NotNil(t, f, e.messageType)
		tp := f.doc["properties"].(map[string]any)
		assert.Equal(t, envelope, slices.Sorted(maps.Keys(tp)), f.name)
		assert.Equal(t, map[string]any{"const": e.messageType}, tp["messageType"], f.name)
	}
}

func TestLocaleHasNoTemplates(t *testing.T) {
	Default()
	l := gojsonschema.Locale
	for _, s := range []string{l.Required(), l.Enum(), l.Const(), l.DoesNotMatchPattern(), l.NumberOneOf(), l.ConditionThen(), l.InvalidType(), l.StringLTE()} {
		assert.NotContains(t, s, "{{")
	}
}

// A broken bundle is an error of compileFS (and would be Default's panic);
// a $ref outside the bundle is never fetched.
func TestBrokenBundles(t *testing.T) {
	good := func() fstest.MapFS {
		fsys := fstest.MapFS{}
		require.NoError(t, fs.WalkDir(bundleFS, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(bundleFS, p)
			fsys[p] = &fstest.MapFile{Data: b}
			return err
		}))
		return fsys
	}
	_, err := compileFS(good())
	require.NoError(t, err)

	replace := func(name, old, new string) fstest.MapFS {
		fsys := good()
		p := "1.0.0/" + name + ".schema.json"
		s := string(fsys[p].Data)
		require.Contains(t, s, old)
		fsys[p] = &fstest.MapFile{Data: []byte(strings.Replace(s, old, new, 1))}
		return fsys
	}
	for name, fsys := range map[string]fstest.MapFS{
		"missing-file":       replace("live-birth", `"common.schema.json#/definitions/place"`, `"https://crvs.example.org/schemas/1.0.0/missing.schema.json"`),
		"missing-definition": replace("live-birth", `"common.schema.json#/definitions/place"`, `"common.schema.json#/definitions/nowhere"`),
		"wrong-id":           replace("death", `1.0.0/death.schema.json`, `1.0.0/deaths.schema.json`),
		"not-json":           replace("receipt", `{`, `{{`),
		"bad-pattern":        replace("common", `"^[A-Z]{2}-[A-Z0-9]{1,3}$"`, `"^(?=x)$"`),
		"dispatch-not-if": replace("message", `"if": {
        "required": ["messageType"]`, `"iff": {
        "required": ["messageType"]`),
		"bad-version-dir": func() fstest.MapFS {
			f := good()
			f["v1/x.schema.json"] = &fstest.MapFile{Data: []byte("{}")}
			return f
		}(),
		"no-entry-point": func() fstest.MapFS { f := good(); delete(f, "1.0.0/message.schema.json"); return f }(),
		"conditional-in-anyOf": replace("common", `{"required": ["issuingFormerCountry"]}`,
			`{"allOf": [{"if": {"required": ["issuingFormerCountry"]}, "then": {"required": ["series"]}}]}`),
	} {
		_, err := compileFS(fsys)
		assert.Error(t, err, name)
		t.Logf("%s: %v", name, err)
		if name == "missing-file" {
			assert.ErrorContains(t, err, "never fetched")
		}
	}
}

// publishedHashes pins the SHA-256 of every file of every published
// bundle: published bundles never change (README.md, "Versioning"). A
// change is a new bundle in a new directory, never an edit here.
var publishedHashes = map[string]map[string]string{
	"1.0.0": {
		"adoption":            "f2caf0619844f6c544fb6f265f84966dce0fd903f1c8d1324a8b33b72c72625e",
		"annulment":           "be8dbe389bb1aa6158debc932c7a400b637333da550ca9351a0b6143907a0e15",
		"common":              "502f3b65969221816b6e160d809a92b1c4ee53eacf30753d54f032dd677ed2dd", // amended before release: senderEndpoint (CHANGELOG "Protocol")
		"death":               "22c6a8a22302c8ab260e332a2cc6e7a89e478785b5ac460d144de7bd358e230e",
		"divorce":             "3257f7a765ad96516bd0178f176a850562c3c8ac2b1f2371d9cdfde443ea3589",
		"fetal-death":         "15d907c0a1e7fc2900fa29ca14a04593d6026eef6c7591968af5cfa5961c3a82",
		"judicial-separation": "bfdcfb4c05143275aba00a6a1e1078ff2c14879577df0dcac0931d035f48b39e",
		"legitimation":        "5a2b2393238f3f2d2eb6c3a6371836e27d01033d089cce13db7699c6d6e9fe0f",
		"live-birth":          "9bbf9d90d5c0c1ad9d84f8cdaef1e2f9d76cd00da306a14308e8e7f7c7e70d81",
		"marriage":            "e9e28a066566f571b9c46ca47ba8c15e256f614cf8cd0bd7c9e4f790e7cbfedf",
		"message":             "def99d4f629abdde35f4a8dc86bf89dd0c016e2d4309859db26422a173d8098f", // amended before release: an INT- sender has no country (CHANGELOG "Protocol")
		"receipt":             "e995bf9aa80209a028a35afccda0b6a7b9266bbd79c5ff46a9463391961a1272",
		"recognition":         "def532a50e435b519ec4ce8c2654b06ebef91d4485447213a2405f55958f67a9",
		"record-cancellation": "26ac2b873a60776d879932170b03481c9180798f4bcfe2f8edc744e54fb9264e",
		"status-attestation":  "829eed758f6841abb3240b2f93e13e3108791482e3315ac8fb58efad45a06644",
		"status-query":        "647f4abad8ee9ab41617e8362a41a6b9dc217abc79aa8b755155330faa7f53b9",
	},
}

func TestPublishedBundlesNeverChange(t *testing.T) {
	v := Default()
	for _, version := range v.Versions() {
		want, published := publishedHashes[version]
		require.True(t, published, "bundle %s has no pinned hashes: pin them when it is published", version)
		got := make(map[string]string)
		for _, si := range v.Schemas() {
			if si.Version == version {
				raw, _ := v.Schema(version, si.Name)
				sum := sha256.Sum256(raw)
				got[si.Name] = hex.EncodeToString(sum[:])
			}
		}
		assert.Equal(t, want, got, "bundle %s changed: published bundles never change; write a new version", version)
	}
}
