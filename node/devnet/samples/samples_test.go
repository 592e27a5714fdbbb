package samples_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/devnet/samples"
	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/schemas"
)

// The devnet's nodes.
var nodes = map[string]protocol.Endpoint{
	"TJ": {NodeID: "TJ-MOJ-CRVS", Country: "TJ"},
	"TR": {NodeID: "TR-NVI-CRVS", Country: "TR"},
	"KZ": {NodeID: "KZ-MOJ-CRVS", Country: "KZ"},
}

// want is every template: the node that registers the event and the one
// route the demo relies on.
var want = []struct {
	name   string
	sender string
	route  []string
}{
	{"birth-tajik-child-in-istanbul.json", "TR", []string{"TJ"}},
	{"death-turkish-citizen-in-almaty.json", "KZ", []string{"TR"}},
	{"divorce-of-marriage-registered-in-tajikistan.json", "TR", []string{"TJ"}},
	{"marriage-tajik-kazakh-couple-in-dushanbe.json", "TJ", []string{"KZ"}},
	{"birth-kazakh-child-in-istanbul.json", "TR", []string{"KZ"}},
}

func decode(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if dec.More() {
		t.Fatal("decode: trailing data after the message")
	}
	return doc
}

func mustGet(t *testing.T, name string) []byte {
	t.Helper()
	raw := samples.Get(name)
	if raw == nil {
		t.Fatalf("Get(%q) = nil", name)
	}
	return raw
}

// explain returns the issues of a validation error, or the error itself.
func explain(err error) any {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Issues
	}
	return err
}

func TestNames(t *testing.T) {
	var names []string
	for _, w := range want {
		names = append(names, w.name)
	}
	slices.Sort(names)
	if got := samples.Names(); !slices.Equal(got, names) {
		t.Fatalf("Names() = %q, want %q", got, names)
	}
	got := samples.Names()
	got[0] = "changed"
	if samples.Names()[0] == "changed" {
		t.Error("Names returns a slice its caller can change under the package")
	}
}

func TestGet(t *testing.T) {
	for _, w := range want {
		raw := mustGet(t, w.name)
		short := samples.Get(w.name[:len(w.name)-len(".json")])
		if !bytes.Equal(short, raw) {
			t.Errorf("Get without .json differs from Get(%q)", w.name)
		}
		raw[0] = 'X'
		if again := samples.Get(w.name); again[0] == 'X' {
			t.Errorf("Get(%q) returns bytes its caller can change under the package", w.name)
		}
	}
	for _, name := range []string{"", "nope", "nope.json", ".", "./birth-tajik-child-in-istanbul.json", "../samples/birth-tajik-child-in-istanbul.json", "samples.go"} {
		if got := samples.Get(name); got != nil {
			t.Errorf("Get(%q) = %d bytes, want nil", name, len(got))
		}
	}
}

// Every template is valid as it is — no error, no warning — and in NFC:
// the validator's decoded document (every string NFC-normalised) is the
// file's own decoding, so a template does not rely on the pipeline's
// normalisation.
func TestValidAsIs(t *testing.T) {
	for _, w := range want {
		t.Run("ok/"+w.name, func(t *testing.T) {
			raw := mustGet(t, w.name)
			res, err := schemas.Default().Validate(raw)
			if err != nil {
				t.Fatalf("Validate: %v\n%v", err, explain(err))
			}
			if len(res.Warnings) != 0 {
				t.Fatalf("Validate: warnings %+v", res.Warnings)
			}
			if !reflect.DeepEqual(res.Doc, decode(t, raw)) {
				t.Error("not in NFC: the validator normalised some string")
			}
			if res.SchemaVersion != "1.0.0" {
				t.Errorf("schemaVersion %q, want 1.0.0", res.SchemaVersion)
			}
		})
	}
}

// Route sends each template from its registering country to exactly the
// intended member, and the file's own sender and recipient are those.
func TestRoute(t *testing.T) {
	for _, w := range want {
		t.Run("ok/"+w.name, func(t *testing.T) {
			doc := decode(t, mustGet(t, w.name))
			got, err := exchange.Route(doc, w.sender)
			if err != nil {
				t.Fatalf("Route(%s): %v", w.sender, err)
			}
			if !slices.Equal(got, w.route) {
				t.Fatalf("Route(%s) = %q, want %q", w.sender, got, w.route)
			}
			payload, _ := doc["payload"].(map[string]any)
			registration, _ := payload["registration"].(map[string]any)
			if c := registration["registeringCountry"]; c != w.sender {
				t.Errorf("registeringCountry %v, want %s", c, w.sender)
			}
			if e := endpoint(doc["sender"]); e != nodes[w.sender] {
				t.Errorf("sender %+v, want %+v", e, nodes[w.sender])
			}
			if e := endpoint(doc["recipient"]); e != nodes[w.route[0]] {
				t.Errorf("recipient %+v, want %+v", e, nodes[w.route[0]])
			}
			if p := doc["purpose"]; p != exchange.PurposeCitizenship {
				t.Errorf("purpose %v, want %s", p, exchange.PurposeCitizenship)
			}
		})
	}
}

// What the demo does with a template — the sending node fills in the
// envelope for the routed recipient, with createdAt now — still passes the
// schemas and the semantic layer, for any now from 2026-11-20 on.
func TestPrepareRouted(t *testing.T) {
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	for _, w := range want {
		t.Run("ok/"+w.name, func(t *testing.T) {
			doc := decode(t, mustGet(t, w.name))
			b, err := exchange.PrepareRouted(doc, nodes[w.sender], nodes[w.route[0]],
				"0b8f6c1e-5d2a-4e7b-9c3f-1a2b3c4d5e6f", "6f1d2c3b-4a5e-4f60-8b7c-9d0e1f2a3b4c", now)
			if err != nil {
				t.Fatalf("PrepareRouted: %v\n%v", err, explain(err))
			}
			res, err := schemas.Default().Validate(b)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if len(res.Warnings) != 0 {
				t.Fatalf("Validate: warnings %+v", res.Warnings)
			}
		})
	}
}

func endpoint(v any) protocol.Endpoint {
	m, _ := v.(map[string]any)
	id, _ := m["nodeId"].(string)
	c, _ := m["country"].(string)
	return protocol.Endpoint{NodeID: id, Country: c}
}
