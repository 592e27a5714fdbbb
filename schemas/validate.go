package schemas

import (
	"fmt"
	"runtime/debug"
	"slices"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/schemas/semantic"
	"github.com/xeipuuv/gojsonschema"
	"golang.org/x/text/unicode/norm"
)

// Result is what Validate learned about a message that passed.
type Result struct {
	SchemaVersion string // the bundle the message was validated against
	MessageType   string
	// Doc is the decoded message with every string (member names and
	// values) in NFC and every number a json.Number with the exact text of
	// the message. The caller owns it.
	Doc map[string]any
	// Warnings are the semantic layer's findings of severity "warning".
	Warnings []protocol.Issue
}

// semanticCheck is the semantic layer (package schemas/semantic, the data
// dictionary's "What the schema cannot check"), run on every message that
// passes its schema: issues of severity "error" (or any severity but
// "warning") reject the message with SEMANTIC_VALIDATION_FAILED, the
// warnings become Result.Warnings. A variable so that the tests can put a
// fake in its place; package semantic must never import this one.
var semanticCheck = semantic.Check

// Validate checks one message (the JSON payload of a JWS) against the
// schema bundle it names and then the semantic layer. See the package
// documentation for the errors it returns; a nil error means the message
// is valid, and res describes it.
//
// It never panics on any input: a panic inside is returned as an internal
// error (not a *protocol.Error), so a bug fails closed.
func (v *Validator) Validate(msg []byte) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("schemas: internal error validating a message: %v\n%s", r, debug.Stack())
		}
	}()
	res, err = v.validateSchema(msg)
	if err != nil {
		return nil, err
	}
	// > §6.6.3 The semantic rules of schemas/semantic/RULES.md hold
	// > (SEMANTIC_VALIDATION_FAILED, with its issues). Warnings do not
	// > refuse a message.
	var failed bool
	all := semanticCheck(res.Doc)
	for _, is := range all {
		if is.Severity == protocol.SeverityWarning {
			res.Warnings = append(res.Warnings, is)
		} else {
			failed = true // "error", or anything unknown: fail closed
		}
	}
	if failed {
		all = slices.Clone(all)
		sortIssues(all)
		return nil, &protocol.Error{Code: protocol.CodeSemanticInvalid, Issues: capIssues(all)}
	}
	sortIssues(res.Warnings)
	return res, nil
}

// validateSchema is Validate without the semantic layer.
func (v *Validator) validateSchema(msg []byte) (*Result, error) {
	if len(msg) > protocol.MaxMessageBytes {
		// The JWS layer refuses larger messages first; this keeps a direct
		// caller from handing over unbounded input.
		return nil, protocol.Errorf(protocol.CodeTooLarge, "message of %d bytes is over the limit of %d", len(msg), protocol.MaxMessageBytes)
	}
	// > §6.5 Payload hygiene (I-JSON), first: a decoder would keep one of
	// > two duplicate names, replace invalid UTF-8, and so on.
	if err := protocol.CheckJSON(msg, protocol.MaxJSONDepth); err != nil {
		return nil, err
	}
	doc, err := decodeNFC(msg, v.names)
	if err != nil {
		return nil, err
	}

	// > §6.6.1 schemaVersion is one the receiver supports
	// > (UNSUPPORTED_SCHEMA_VERSION), and messageType is known
	// > (UNKNOWN_MESSAGE_TYPE).
	b := v.latest
	if version, isStr := doc["schemaVersion"].(string); isStr {
		if b = v.bundles[version]; b == nil {
			return nil, &protocol.Error{
				Code:    protocol.CodeSchemaVersion,
				Detail:  fmt.Sprintf("schemaVersion %q is not supported; supported: %v", version, v.versions),
				Pointer: "/schemaVersion",
				Issues: []protocol.Issue{{
					Severity: protocol.SeverityError, Code: CodeEnum, Pointer: "/schemaVersion",
					Message: describe("enum", map[string]any{"allowed": v.quotedVersions}),
				}},
			}
		}
	}
	// A missing or non-string schemaVersion is a schema error of the
	// newest bundle, reported below with everything else.

	mt, _ := doc["messageType"].(string)
	ts := b.types[mt]
	if ts == nil {
		// Unknown, missing or not a string: the published schema's verdict
		// is the envelope's (its messageType enum, type or required).
		issues, err := exactIssues(b.envelope, doc)
		if err != nil {
			return nil, err
		}
		if _, present := doc["messageType"]; present {
			return nil, &protocol.Error{Code: protocol.CodeMessageType, Detail: "messageType is not a message type of schema bundle " + b.version, Pointer: "/messageType", Issues: issues}
		}
		return nil, &protocol.Error{Code: protocol.CodeSchemaInvalid, Issues: issues}
	}
	// > §6.6.2 The message, normalised to NFC, is valid against the
	// > bundle's schema for its messageType (SCHEMA_VALIDATION_FAILED, with
	// > every leaf error as an issue).
	if !ts.fastValid(doc) {
		issues, err := exactIssues(ts.exact, doc)
		if err != nil {
			return nil, err
		}
		if len(issues) == 0 {
			// The fast path rejected what the published schema accepts: a
			// bug in this package. Fail closed; never guess a verdict.
			return nil, fmt.Errorf("schemas: internal error: the fast path rejected a %s message that schema bundle %s accepts", mt, b.version)
		}
		return nil, &protocol.Error{Code: protocol.CodeSchemaInvalid, Issues: issues}
	}
	return &Result{SchemaVersion: b.version, MessageType: mt, Doc: doc}, nil
}

// fastValid is the verdict of the fast path: the type's schema without the
// hoisted conditionals, then the conditionals in Go (see fast.go).
func (ts *typeSchema) fastValid(doc map[string]any) bool {
	r, err := ts.fast.Validate(docLoader(doc))
	if err != nil || !r.Valid() {
		return false
	}
	return ts.rules.holds(doc)
}

// exactIssues validates doc against a published schema and returns its
// leaves, at most MaxIssues of them.
func exactIssues(s *gojsonschema.Schema, doc map[string]any) ([]protocol.Issue, error) {
	r, err := s.Validate(docLoader(doc))
	if err != nil {
		return nil, fmt.Errorf("schemas: %w", err)
	}
	issues, err := leafIssues(r.Errors())
	return capIssues(issues), err
}

// MaxIssues bounds the issues of one refusal, so that a hostile message
// cannot make the answer (a problem document, or a receipt's issues) grow
// with the number of its errors.
const MaxIssues = 100

// CodeTruncated is the last issue of a list cut at MaxIssues.
const CodeTruncated = "ISSUES_TRUNCATED"

func capIssues(issues []protocol.Issue) []protocol.Issue {
	if len(issues) <= MaxIssues {
		return issues
	}
	n := len(issues) - (MaxIssues - 1)
	out := append(issues[:MaxIssues-1:MaxIssues-1], protocol.Issue{Severity: protocol.SeverityError, Code: CodeTruncated,
		Message: fmt.Sprintf("%d more issues are not listed", n)})
	return out
}

// IsNFC reports whether msg is in Unicode normalisation form C. A receiver
// refuses a payload that is not (SPEC §1, §6.5): the national system gets
// the bytes that were signed, so they must be the ones that were checked.
func IsNFC(msg []byte) bool { return norm.NFC.IsNormal(msg) }
