package schemas

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leafIssues on small schemas: one stable code per keyword, wrappers only
// when nothing below explains them, pointers to the member for required
// and additionalProperties.
func TestLeafIssues(t *testing.T) {
	setLocale()
	p, err := newPool("test", map[string]map[string]any{})
	require.NoError(t, err)
	for _, c := range []struct {
		name, schema, doc string
		want              []string
	}{
		{"required", `{"type":"object","required":["a~b/c"]}`, `{}`, []string{"SCHEMA_REQUIRED /a~0b~1c"}},
		{"additional", `{"type":"object","additionalProperties":false}`, `{"x":1}`, []string{"SCHEMA_ADDITIONAL_PROPERTY /x"}},
		{"false", `{"properties":{"x":false}}`, `{"x":1}`, []string{"SCHEMA_FORBIDDEN /x"}},
		{"type", `{"type":"string"}`, `1`, []string{"SCHEMA_TYPE "}},
		{"const", `{"const":"a"}`, `"b"`, []string{"SCHEMA_CONST "}},
		{"enum", `{"enum":["a"]}`, `"b"`, []string{"SCHEMA_ENUM "}},
		{"minLength", `{"minLength":2}`, `"a"`, []string{"SCHEMA_MIN_LENGTH "}},
		{"maxLength", `{"maxLength":1}`, `"ab"`, []string{"SCHEMA_MAX_LENGTH "}},
		{"minimum", `{"minimum":2}`, `1`, []string{"SCHEMA_MINIMUM "}},
		{"maximum", `{"maximum":0}`, `1`, []string{"SCHEMA_MAXIMUM "}},
		{"exclusiveMinimum", `{"exclusiveMinimum":1}`, `1`, []string{"SCHEMA_EXCLUSIVE_MINIMUM "}},
		{"exclusiveMaximum", `{"exclusiveMaximum":1}`, `1`, []string{"SCHEMA_EXCLUSIVE_MAXIMUM "}},
		{"multipleOf", `{"multipleOf":2}`, `3`, []string{"SCHEMA_MULTIPLE_OF "}},
		{"items", `{"items":{"type":"string"},"minItems":3,"maxItems":1}`, `["a",1]`, []string{"SCHEMA_MAX_ITEMS ", "SCHEMA_MIN_ITEMS ", "SCHEMA_TYPE /1"}},
		{"unique", `{"uniqueItems":true}`, `[1,2,1.0]`, []string{"SCHEMA_UNIQUE_ITEMS /2"}},
		{"not", `{"not":{"type":"string"}}`, `"a"`, []string{"SCHEMA_NOT "}},
		{"oneOf-two-match", `{"oneOf":[{"type":"string"},{"minLength":1}]}`, `"a"`, []string{"SCHEMA_ONE_OF "}},
		{"oneOf-none-matches", `{"oneOf":[{"pattern":"^a$","minLength":3},{"pattern":"^b$"}]}`, `"c"`, []string{"SCHEMA_PATTERN "}},
		{"anyOf-member", `{"anyOf":[{"required":["a"]},{"required":["b"]}]}`, `{}`, []string{"SCHEMA_REQUIRED /a"}},
		{"allOf", `{"allOf":[{"required":["a"]},{"properties":{"b":{"type":"string"}}}]}`, `{"b":1}`, []string{"SCHEMA_REQUIRED /a", "SCHEMA_TYPE /b"}},
		{"then", `{"if":{"required":["a"]},"then":{"required":["b"]},"else":{"required":["c"]}}`, `{"a":1}`, []string{"SCHEMA_REQUIRED /b"}},
		{"else", `{"if":{"required":["a"]},"then":{"required":["b"]},"else":{"required":["c"]}}`, `{}`, []string{"SCHEMA_REQUIRED /c"}},
		{"same-leaf-twice", `{"allOf":[{"required":["a"]},{"required":["a"]}]}`, `{}`, []string{"SCHEMA_REQUIRED /a"}},
		{"nested-pointer", `{"properties":{"a":{"items":{"properties":{"b":{"type":"string"}}}}}}`, `{"a":[{},{"b":1}]}`, []string{"SCHEMA_TYPE /a/1/b"}},
		{"format", `{"format":"date"}`, `"2023-02-30"`, []string{"SCHEMA_FORMAT "}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := p.compile(c.name, decodeForTest(t, []byte(`{"x":`+c.schema+`}`))["x"].(map[string]any))
			require.NoError(t, err)
			doc := decodeForTest(t, []byte(`{"x":`+c.doc+`}`))["x"]
			r, err := s.Validate(docLoader(doc))
			require.NoError(t, err)
			issues, err := leafIssues(r.Errors())
			require.NoError(t, err)
			assert.Equal(t, c.want, issueStrings(issues))
			for _, is := range issues {
				assert.NotEmpty(t, is.Message)
				assert.Equal(t, "error", is.Severity)
			}
		})
	}
}
