package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// The embedded bundles, one directory per version. A new bundle is a new
// directory and a new pattern here; published directories never change.
//
//go:embed 1.0.0/*.schema.json
var bundleFS embed.FS

// IDBase prefixes every $id: IDBase + version + "/" + name + ".schema.json".
// The host is the network's placeholder name; $ids are names, never fetched.
const IDBase = "https://crvs.example.org/schemas/"

// entryPoint is the name of the schema every message is validated against.
const entryPoint = "message"

// SchemaInfo describes one schema file of a bundle.
type SchemaInfo struct {
	Version string `json:"version"` // bundle version, e.g. "1.0.0"
	Name    string `json:"name"`    // file name without ".schema.json", e.g. "live-birth"
	ID      string `json:"id"`      // the $id
}

// schemaFile is one decoded file of a bundle. doc is never modified after
// loading: every consumer that needs to change a schema (gojsonschema
// rewrites $ref values in place) works on a deep copy.
type schemaFile struct {
	name string
	id   string
	raw  []byte
	doc  map[string]any
}

// loadBundle reads and checks the files of one version directory.
func loadBundle(fsys fs.FS, version string) (map[string]*schemaFile, error) {
	entries, err := fs.ReadDir(fsys, version)
	if err != nil {
		return nil, fmt.Errorf("schemas: bundle %s: %w", version, err)
	}
	files := make(map[string]*schemaFile)
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".schema.json") {
			continue
		}
		name := strings.TrimSuffix(e.Name(), ".schema.json")
		raw, err := fs.ReadFile(fsys, path.Join(version, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("schemas: bundle %s: %w", version, err)
		}
		doc, err := decodeSchema(raw)
		if err != nil {
			return nil, fmt.Errorf("schemas: bundle %s: %s: %w", version, e.Name(), err)
		}
		want := IDBase + version + "/" + e.Name()
		if id, _ := doc["$id"].(string); id != want {
			return nil, fmt.Errorf("schemas: bundle %s: %s: $id is %q, want %q", version, e.Name(), id, want)
		}
		files[name] = &schemaFile{name: name, id: want, raw: raw, doc: doc}
	}
	if files[entryPoint] == nil {
		return nil, fmt.Errorf("schemas: bundle %s: no %s.schema.json", version, entryPoint)
	}
	return files, nil
}

// decodeSchema decodes a schema file with exact numbers.
func decodeSchema(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the schema")
	}
	return doc, nil
}

// bundleVersions lists the version directories of fsys, oldest first.
func bundleVersions(fsys fs.FS) ([]string, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var versions []string
	for _, e := range entries {
		if e.IsDir() {
			if _, ok := parseSemver(e.Name()); !ok {
				return nil, fmt.Errorf("schemas: %q is not a MAJOR.MINOR.PATCH version", e.Name())
			}
			versions = append(versions, e.Name())
		}
	}
	slices.SortFunc(versions, compareSemver)
	return versions, nil
}

func parseSemver(s string) ([3]int, bool) {
	var v [3]int
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || strconv.Itoa(n) != p {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

func compareSemver(a, b string) int {
	va, _ := parseSemver(a)
	vb, _ := parseSemver(b)
	for i := range va {
		if c := va[i] - vb[i]; c != 0 {
			return c
		}
	}
	return 0
}

// deepCopy copies a decoded JSON value.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = deepCopy(x)
		}
		return s
	}
	return v
}
