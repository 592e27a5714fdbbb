package schemas

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ecrn/crvsx/protocol"
	"github.com/stretchr/testify/require"
)

// The published entry point, message.schema.json with its allOf/if
// dispatch, validated the slow way, and Validate (Go dispatch, fast schema,
// conditionals in Go) must give the same verdict and the same leaf issues
// on every fixture and every mutation of it.

// published validates a message with message.schema.json as published.
func published(t testing.TB, v *Validator, msg []byte) (checked bool, valid bool, issues []protocol.Issue) {
	t.Helper()
	if len(msg) > protocol.MaxMessageBytes || protocol.CheckJSON(msg, protocol.MaxJSONDepth) != nil {
		return false, false, nil
	}
	doc, err := decodeNFC(msg, v.names)
	if err != nil {
		return false, false, nil
	}
	r, err := v.latest.published.Validate(docLoader(doc))
	require.NoError(t, err)
	issues, err = leafIssues(r.Errors())
	require.NoError(t, err)
	return true, r.Valid(), issues
}

// samePublishedVerdict fails the test when Validate and the published
// entry point disagree on msg.
func samePublishedVerdict(t testing.TB, v *Validator, name string, msg []byte) {
	t.Helper()
	checked, pubValid, pubIssues := published(t, v, msg)
	res, err := v.validateSchema(msg)
	var pe *protocol.Error
	if err != nil && !errors.As(err, &pe) {
		t.Fatalf("%s: internal error: %v", name, err)
	}
	if !checked {
		if err == nil || (!strings.HasPrefix(string(pe.Code), "PAYLOAD_") && pe.Code != protocol.CodeTooLarge) {
			t.Errorf("%s: bytes refused before the schema, but Validate says %v", name, err)
		}
		return
	}
	if pubValid != (err == nil) {
		t.Errorf("%s: published valid=%v, Validate: %v (published issues %v)", name, pubValid, err, issueStrings(pubIssues))
		return
	}
	if err == nil {
		if res == nil {
			t.Errorf("%s: nil result", name)
		}
		return
	}
	if pe.Code == protocol.CodeSchemaVersion {
		// A version this node does not hold is refused for that alone;
		// the published 1.0.0 schema has more to say about it, but those
		// rules are not the message's.
		for _, is := range pe.Issues {
			if !slices.Contains(pubIssues, is) {
				t.Errorf("%s: issue %v not among the published ones %v", name, is, issueStrings(pubIssues))
			}
		}
		return
	}
	if !slices.Equal(pe.Issues, pubIssues) {
		t.Errorf("%s: issues differ\n Validate:  %v\n published: %v", name, issueStrings(pe.Issues), issueStrings(pubIssues))
	}
}

func TestPublishedAgreesOnRuleCases(t *testing.T) {
	v := Default()
	fx := allFixtures(t)
	for _, c := range ruleCases {
		t.Run(c.name, func(t *testing.T) {
			samePublishedVerdict(t, v, c.name, c.prepare(t, fx))
		})
	}
}

func TestPublishedAgreesOnFixtures(t *testing.T) {
	v := Default()
	fx := allFixtures(t)
	for _, name := range sortedKeys(fx) {
		samePublishedVerdict(t, v, name, fx[name])
	}
}

// TestPublishedAgreesOnMutations mutates every place of every fixture:
// deletes it, replaces it by values of other types and by edge values,
// adds a member to every object, and sets every discriminator of a
// conditional rule to each of its values wherever it occurs.
func TestPublishedAgreesOnMutations(t *testing.T) {
	v := Default()
	fx := allFixtures(t)
	discriminators := discriminatorValues(v)
	n := 0
	for _, name := range sortedKeys(fx) {
		if !strings.HasPrefix(name, "fixture/") && !strings.HasPrefix(name, "bench/") {
			continue
		}
		base := decodeForTest(t, fx[name])
		for i, m := range mutations(base, discriminators) {
			if testing.Short() && i%4 != 0 {
				continue // a quarter of them with -short
			}
			doc := decodeForTest(t, fx[name])
			if !m.apply(doc) {
				continue
			}
			msg := mustMarshal(t, numbersAsJSON(doc))
			samePublishedVerdict(t, v, fmt.Sprintf("%s #%d %s", name, i, m), msg)
			n++
		}
	}
	t.Logf("%d mutations", n)
	require.Greater(t, n, 1000)
}

// discriminatorValues lists, for each member name a hoisted conditional
// tests, the values its `if` looks for.
func discriminatorValues(v *Validator) map[string][]any {
	out := make(map[string][]any)
	for _, r := range v.latest.rules {
		for _, km := range r.match {
			values := km.values
			if km.pattern != nil {
				// A pattern conditional (the sender's ^INT-): values on
				// both sides of it, and a value of another type.
				values = patternSamples[km.pattern.String()]
				if len(values) == 0 {
					panic("no samples for the conditional pattern " + km.pattern.String())
				}
			}
			for _, x := range values {
				if !slices.Contains(out[km.key], x) {
					out[km.key] = append(out[km.key], x)
				}
			}
		}
	}
	return out
}

// patternSamples are the values the mutations try for a member a pattern
// conditional looks at.
var patternSamples = map[string][]any{
	"^INT-": {"INT-UNHCR", "KG-BORDER", "INT", jsonNumber("7")},
}

type mutation struct {
	ptr   string
	op    string // "del", "set", "add"
	value any
}

func (m mutation) String() string { return fmt.Sprintf("%s %s %v", m.op, m.ptr, m.value) }

// apply performs the mutation; false when it does not apply.
func (m mutation) apply(doc map[string]any) bool {
	toks := ptrTokens(m.ptr)
	var parent any = doc
	for _, tok := range toks[:len(toks)-1] {
		switch p := parent.(type) {
		case map[string]any:
			parent = p[tok]
		case []any:
			i, _ := strconv.Atoi(tok)
			parent = p[i]
		}
	}
	last := toks[len(toks)-1]
	switch p := parent.(type) {
	case map[string]any:
		switch m.op {
		case "del":
			delete(p, last)
		default:
			p[last] = m.value
		}
		return true
	case []any:
		i, _ := strconv.Atoi(last)
		switch m.op {
		case "del":
			// Shift in place; the slice header in the parent keeps its
			// length, so write a null over the last item instead of
			// shrinking: a different mutation, still a useful one.
			copy(p[i:], p[i+1:])
			p[len(p)-1] = nil
		default:
			p[i] = m.value
		}
		return true
	}
	return false
}

var replacements = []any{
	nil, true, jsonNumber("0"), jsonNumber("-1"), jsonNumber("1.5"), jsonNumber("99999"),
	"", "x", " x", strings.Repeat("ж", 201), "1990-02-30", "2024-02-29", "1990", "1990-13",
	"TJ", "SUHH", "Latn", "00000000-0000-0000-0000-000000000000", []any{}, map[string]any{},
	"2024-03-18T09:41:27Z", "2024-03-18",
}

// mutations enumerates mutations of doc.
func mutations(doc map[string]any, discriminators map[string][]any) []mutation {
	var out []mutation
	var walk func(v any, ptr string, key string, depth int)
	walk = func(v any, ptr string, key string, depth int) {
		if ptr != "" {
			out = append(out, mutation{ptr: ptr, op: "del"})
			// Two replacements per place, rotating through the list.
			for k := range 2 {
				out = append(out, mutation{ptr: ptr, op: "set", value: replacements[(len(out)+k*7)%len(replacements)]})
			}
			for _, d := range discriminators[key] {
				out = append(out, mutation{ptr: ptr, op: "set", value: d})
			}
		}
		switch t := v.(type) {
		case map[string]any:
			out = append(out, mutation{ptr: ptr + "/zzExtra", op: "add", value: jsonNumber("1")})
			for _, k := range sortedKeys(t) {
				walk(t[k], ptr+"/"+escapeToken(k), k, depth+1)
			}
			// Members a conditional looks at that are absent here.
			for _, k := range sortedKeys(discriminators) {
				if _, ok := t[k]; !ok && depth > 0 {
					for _, d := range discriminators[k] {
						out = append(out, mutation{ptr: ptr + "/" + k, op: "add", value: d})
					}
				}
			}
		case []any:
			for i, x := range t {
				walk(x, ptr+"/"+strconv.Itoa(i), key, depth+1)
			}
		}
	}
	walk(doc, "", "", 0)
	return out
}
