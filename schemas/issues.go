package schemas

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ecrn/crvsx/protocol"
	"github.com/xeipuuv/gojsonschema"
)

// Issue codes of schema validation, one per JSON Schema keyword. They are
// part of the wire contract (receipts and problem documents carry them):
// never renamed, never reused.
const (
	CodeRequired           = "SCHEMA_REQUIRED"            // a required member is missing; Pointer names the member
	CodeAdditionalProperty = "SCHEMA_ADDITIONAL_PROPERTY" // a member the schema does not define; Pointer names the member
	CodeForbidden          = "SCHEMA_FORBIDDEN"           // a member forbidden in this case (a false schema), e.g. parent.person when the parent is unknown
	CodeType               = "SCHEMA_TYPE"
	CodeEnum               = "SCHEMA_ENUM"
	CodeConst              = "SCHEMA_CONST"
	CodePattern            = "SCHEMA_PATTERN"
	CodeFormat             = "SCHEMA_FORMAT" // e.g. a date that does not exist (2023-02-30)
	CodeMinLength          = "SCHEMA_MIN_LENGTH"
	CodeMaxLength          = "SCHEMA_MAX_LENGTH" // in code points of the NFC form
	CodeMinimum            = "SCHEMA_MINIMUM"
	CodeMaximum            = "SCHEMA_MAXIMUM"
	CodeExclusiveMinimum   = "SCHEMA_EXCLUSIVE_MINIMUM"
	CodeExclusiveMaximum   = "SCHEMA_EXCLUSIVE_MAXIMUM"
	CodeMultipleOf         = "SCHEMA_MULTIPLE_OF"
	CodeMinItems           = "SCHEMA_MIN_ITEMS"
	CodeMaxItems           = "SCHEMA_MAX_ITEMS"
	CodeUniqueItems        = "SCHEMA_UNIQUE_ITEMS" // Pointer names the later duplicate
	CodeAdditionalItems    = "SCHEMA_ADDITIONAL_ITEMS"
	CodeContains           = "SCHEMA_CONTAINS"
	CodeMinProperties      = "SCHEMA_MIN_PROPERTIES"
	CodeMaxProperties      = "SCHEMA_MAX_PROPERTIES"
	CodePropertyName       = "SCHEMA_PROPERTY_NAME"
	CodeDependency         = "SCHEMA_DEPENDENCY"
	CodeNot                = "SCHEMA_NOT"
	CodeOneOf              = "SCHEMA_ONE_OF" // only when no leaf below it is more specific
	CodeAnyOf              = "SCHEMA_ANY_OF" // only when no leaf below it is more specific
	CodeAllOf              = "SCHEMA_ALL_OF" // only when no leaf below it is more specific
	CodeInvalid            = "SCHEMA_INVALID"
)

// leafCodes maps gojsonschema's error types to issue codes.
var leafCodes = map[string]string{
	"required":                        CodeRequired,
	"additional_property_not_allowed": CodeAdditionalProperty,
	"false":                           CodeForbidden,
	"invalid_type":                    CodeType,
	"enum":                            CodeEnum,
	"const":                           CodeConst,
	"pattern":                         CodePattern,
	"format":                          CodeFormat,
	"string_gte":                      CodeMinLength,
	"string_lte":                      CodeMaxLength,
	"number_gte":                      CodeMinimum,
	"number_lte":                      CodeMaximum,
	"number_gt":                       CodeExclusiveMinimum,
	"number_lt":                       CodeExclusiveMaximum,
	"multiple_of":                     CodeMultipleOf,
	"array_min_items":                 CodeMinItems,
	"array_max_items":                 CodeMaxItems,
	"unique":                          CodeUniqueItems,
	"array_no_additional_items":       CodeAdditionalItems,
	"contains":                        CodeContains,
	"array_min_properties":            CodeMinProperties,
	"array_max_properties":            CodeMaxProperties,
	"invalid_property_name":           CodePropertyName,
	"invalid_property_pattern":        CodePropertyName,
	"missing_dependency":              CodeDependency,
	"number_not":                      CodeNot,
}

// wrapperCodes are the errors gojsonschema adds above the errors of a
// subschema. They are reported only when no leaf at or below their place
// is.
var wrapperCodes = map[string]string{
	"number_one_of":  CodeOneOf,
	"number_any_of":  CodeAnyOf,
	"number_all_of":  CodeAllOf,
	"condition_then": CodeAllOf,
	"condition_else": CodeAllOf,
}

type finding struct {
	issue   protocol.Issue
	at      string // pointer of the value the keyword applies to
	wrapper string // gojsonschema type, for wrappers
	seq     int
}

// leafIssues turns gojsonschema's errors into sorted leaf issues:
//
//   - wrappers (allOf, then/else, oneOf, anyOf) are dropped when a leaf at
//     or below their place explains them;
//   - where a oneOf/anyOf failed on a value, only the first leaf on that
//     value itself is kept (gojsonschema reports the closest alternative's
//     errors, and one is enough to say why: a partial date that is neither
//     a date, a year-month nor a year gives one issue, not three);
//   - required and additionalProperties point at the member itself, a
//     uniqueItems failure at the later duplicate;
//   - exact duplicates (the same member checked by two schemas) are merged.
//
// An error of gojsonschema itself ("internal") is returned as an error.
func leafIssues(errs []gojsonschema.ResultError) ([]protocol.Issue, error) {
	var all []finding
	for i, e := range errs {
		t := e.Type()
		if t == "internal" {
			return nil, fmt.Errorf("schemas: gojsonschema internal error at %s: %s", contextPointer(e.Context()), e.Description())
		}
		at := contextPointer(e.Context())
		f := finding{at: at, seq: i}
		f.issue.Severity = protocol.SeverityError
		f.issue.Pointer = at
		if code, ok := wrapperCodes[t]; ok {
			f.wrapper = t
			f.issue.Code = code
		} else if code, ok := leafCodes[t]; ok {
			f.issue.Code = code
		} else {
			f.issue.Code = CodeInvalid
		}
		d := e.Details()
		switch t {
		case "required", "additional_property_not_allowed":
			if p, ok := d["property"].(string); ok {
				f.issue.Pointer = at + "/" + escapeToken(p)
			}
		case "unique":
			if j, ok := d["j"].(int); ok {
				f.issue.Pointer = at + "/" + strconv.Itoa(j)
			}
		}
		f.issue.Message = describe(t, d)
		all = append(all, f)
	}

	var leaves, wrappers []finding
	for _, f := range all {
		if f.wrapper != "" {
			wrappers = append(wrappers, f)
		} else {
			leaves = append(leaves, f)
		}
	}
	// One leaf per value where an alternative (oneOf/anyOf) failed.
	alt := make(map[string]bool)
	for _, w := range wrappers {
		if w.wrapper == "number_one_of" || w.wrapper == "number_any_of" {
			alt[w.at] = true
		}
	}
	kept := leaves[:0]
	seen := make(map[string]bool)
	for _, l := range leaves { // in gojsonschema's order
		if alt[l.at] && l.issue.Pointer == l.at {
			if seen[l.at] {
				continue
			}
			seen[l.at] = true
			l.issue.Message = "matches none of the alternatives; the closest one " + l.issue.Message
		}
		kept = append(kept, l)
	}
	leaves = kept
	out := make([]protocol.Issue, 0, len(leaves))
	for _, l := range leaves {
		out = append(out, l.issue)
	}
	for _, w := range wrappers {
		explained := slices.ContainsFunc(leaves, func(l finding) bool { return under(l.issue.Pointer, w.at) })
		if !explained {
			out = append(out, w.issue)
		}
	}
	sortIssues(out)
	return slices.Compact(out), nil
}

// under reports whether pointer p is at or below pointer at.
func under(p, at string) bool {
	return p == at || strings.HasPrefix(p, at+"/")
}

func sortIssues(issues []protocol.Issue) {
	slices.SortFunc(issues, func(a, b protocol.Issue) int {
		return cmp.Or(
			cmp.Compare(a.Pointer, b.Pointer),
			cmp.Compare(a.Code, b.Code),
			cmp.Compare(a.Severity, b.Severity),
			cmp.Compare(a.Message, b.Message))
	})
}

// contextPointer turns gojsonschema's context ("(root)", then member names
// and array indexes) into an RFC 6901 pointer. The context only ever holds
// names the schemas define and indexes, never a name taken from the
// message (additionalProperties reports those in its details), so the
// separator below cannot occur inside a token.
func contextPointer(c *gojsonschema.JsonContext) string {
	if c == nil {
		return ""
	}
	s := c.String("\x00")
	_, rest, found := strings.Cut(s, "\x00")
	if !found {
		return "" // the root
	}
	var b strings.Builder
	for tok := range strings.SplitSeq(rest, "\x00") {
		b.WriteByte('/')
		b.WriteString(escapeToken(tok))
	}
	return b.String()
}

// describe writes a human message for an error from its details. Messages
// may change between versions; codes do not.
func describe(t string, d gojsonschema.ErrorDetails) string {
	switch t {
	case "required":
		return "is required"
	case "additional_property_not_allowed":
		return "is not defined by the schema"
	case "false":
		return "is not allowed here"
	case "invalid_type":
		return fmt.Sprintf("must be of type %v, not %v", d["expected"], d["given"])
	case "enum":
		allowed, _ := d["allowed"].(string)
		if strings.Count(allowed, ",") < 12 {
			return "must be one of " + allowed
		}
		return "is not one of the allowed values"
	case "const":
		return fmt.Sprintf("must be %v", d["allowed"])
	case "pattern":
		if re, ok := d["pattern"].(*regexp.Regexp); ok {
			if re.String() == textPattern {
				return "must not contain a control character nor begin or end with white space"
			}
			return "does not match " + re.String()
		}
		return "does not match the pattern"
	case "format":
		switch d["format"] {
		case "date":
			return "is not a calendar date (YYYY-MM-DD)"
		case "date-time":
			return "is not an RFC 3339 date-time"
		}
		return fmt.Sprintf("is not a valid %v", d["format"])
	case "string_gte":
		return fmt.Sprintf("must have at least %v character(s) (code points, after NFC)", d["min"])
	case "string_lte":
		return fmt.Sprintf("must have at most %v character(s) (code points, after NFC)", d["max"])
	case "number_gte":
		return fmt.Sprintf("must be at least %v", d["min"])
	case "number_lte":
		return fmt.Sprintf("must be at most %v", d["max"])
	case "number_gt":
		return fmt.Sprintf("must be greater than %v", d["min"])
	case "number_lt":
		return fmt.Sprintf("must be less than %v", d["max"])
	case "multiple_of":
		return fmt.Sprintf("must be a multiple of %v", d["multiple"])
	case "array_min_items":
		return fmt.Sprintf("must have at least %v item(s)", d["min"])
	case "array_max_items":
		return fmt.Sprintf("must have at most %v item(s)", d["max"])
	case "unique":
		return fmt.Sprintf("repeats item %v", d["i"])
	case "array_no_additional_items":
		return "has more items than allowed"
	case "contains":
		return "has no item of the required kind"
	case "array_min_properties":
		return fmt.Sprintf("must have at least %v member(s)", d["min"])
	case "array_max_properties":
		return fmt.Sprintf("must have at most %v member(s)", d["max"])
	case "invalid_property_name", "invalid_property_pattern":
		return fmt.Sprintf("has an invalid member name %v", d["property"])
	case "missing_dependency":
		return fmt.Sprintf("requires member %v", d["dependency"])
	case "number_not":
		return "matches a schema it must not match"
	case "number_one_of":
		return "must match exactly one alternative"
	case "number_any_of":
		return "must match at least one alternative"
	}
	return "does not satisfy the schema"
}

// setLocale installs a gojsonschema locale whose messages contain no
// template actions. gojsonschema formats a message through text/template
// for every error it creates, including the errors of every `if`, `oneOf`
// and `anyOf` branch it then discards; with constant messages that costs a
// map lookup instead of a template execution. Our messages are built from
// the error details (describe), never from gojsonschema's text.
//
// Locale is a package variable of gojsonschema: this package is its only
// importer (a root test keeps it so), and it is set once, before the first
// schema is compiled.
var setLocale = sync.OnceFunc(func() { gojsonschema.Locale = quietLocale{} })

type quietLocale struct{ gojsonschema.DefaultLocale }

func (quietLocale) False() string                        { return "false" }
func (quietLocale) Required() string                     { return "required" }
func (quietLocale) InvalidType() string                  { return "invalid type" }
func (quietLocale) NumberAnyOf() string                  { return "anyOf" }
func (quietLocale) NumberOneOf() string                  { return "oneOf" }
func (quietLocale) NumberAllOf() string                  { return "allOf" }
func (quietLocale) NumberNot() string                    { return "not" }
func (quietLocale) MissingDependency() string            { return "dependency" }
func (quietLocale) Internal() string                     { return "internal" }
func (quietLocale) Const() string                        { return "const" }
func (quietLocale) Enum() string                         { return "enum" }
func (quietLocale) ArrayNotEnoughItems() string          { return "items" }
func (quietLocale) ArrayNoAdditionalItems() string       { return "additionalItems" }
func (quietLocale) ArrayMinItems() string                { return "minItems" }
func (quietLocale) ArrayMaxItems() string                { return "maxItems" }
func (quietLocale) Unique() string                       { return "uniqueItems" }
func (quietLocale) ArrayContains() string                { return "contains" }
func (quietLocale) ArrayMinProperties() string           { return "minProperties" }
func (quietLocale) ArrayMaxProperties() string           { return "maxProperties" }
func (quietLocale) AdditionalPropertyNotAllowed() string { return "additionalProperties" }
func (quietLocale) InvalidPropertyPattern() string       { return "patternProperties" }
func (quietLocale) InvalidPropertyName() string          { return "propertyNames" }
func (quietLocale) StringGTE() string                    { return "minLength" }
func (quietLocale) StringLTE() string                    { return "maxLength" }
func (quietLocale) DoesNotMatchPattern() string          { return "pattern" }
func (quietLocale) DoesNotMatchFormat() string           { return "format" }
func (quietLocale) MultipleOf() string                   { return "multipleOf" }
func (quietLocale) NumberGTE() string                    { return "minimum" }
func (quietLocale) NumberGT() string                     { return "exclusiveMinimum" }
func (quietLocale) NumberLTE() string                    { return "maximum" }
func (quietLocale) NumberLT() string                     { return "exclusiveMaximum" }
func (quietLocale) ConditionThen() string                { return "then" }
func (quietLocale) ConditionElse() string                { return "else" }
