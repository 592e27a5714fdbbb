// Package schemas owns the network's JSON Schemas and validates messages
// against them. It is the only importer of github.com/xeipuuv/gojsonschema.
//
// The schema bundles are embedded: bundle 1.0.0 lives in the directory
// 1.0.0/ as draft-07 files whose $id is
// https://crvs.example.org/schemas/1.0.0/<name>.schema.json, written from the
// network's data dictionary. Published bundles never change; a new bundle is
// a new directory (see README.md for the versioning rules). Nothing is ever
// fetched over the network: every $ref resolves inside the embedded bundle,
// and a $ref that does not is a compile error.
//
// # Guarantees
//
// [Validator.Validate] takes the raw JSON of a message (the JWS payload) and
// either returns a [Result] or an error:
//
//   - *protocol.Error with Code MESSAGE_TOO_LARGE over protocol.MaxMessageBytes;
//   - *protocol.Error with Code PAYLOAD_* when the bytes are not I-JSON
//     (protocol.CheckJSON), or when two member names become equal after NFC;
//   - *protocol.Error with Code UNSUPPORTED_SCHEMA_VERSION when schemaVersion
//     names a bundle this node does not hold;
//   - *protocol.Error with Code UNKNOWN_MESSAGE_TYPE when messageType is
//     present but not a type of the bundle;
//   - *protocol.Error with Code SCHEMA_VALIDATION_FAILED and the leaf Issues
//     when the message does not satisfy its schema;
//   - *protocol.Error with Code SEMANTIC_VALIDATION_FAILED when the semantic
//     layer (package schemas/semantic) reports an error;
//   - any other error is an internal failure (never a verdict about the
//     message): the caller answers INTERNAL and may retry.
//
// A nil error means the message satisfies the published schema of its
// messageType exactly as message.schema.json states it. The fast path that
// makes this cheap (conditionals evaluated in Go, see fast.go) is checked
// against the published entry point by the tests, and issues are always
// computed by the published schema, so a verdict and its issues never depend
// on which path ran.
//
// Issues are leaves (no allOf/then wrappers), each with a stable code per
// JSON Schema keyword (SCHEMA_REQUIRED, SCHEMA_ENUM, …) and an RFC 6901
// pointer to the offending member, sorted by pointer then code.
//
// Every string (member names and values) is normalised to NFC before
// validation, so maxLength counts the code points of the NFC form; the
// normalised document is returned in Result.Doc for the layers after this
// one.
//
// # Concurrency
//
// A [Validator] is immutable once built and safe for concurrent use by any
// number of goroutines; [Default] builds the embedded one once.
//
// The schemas implement the network's data dictionary; Validate implements
// protocol/SPEC.md §6.6 steps 1–3 (after the §6.5 payload hygiene, which it
// runs itself) and §9 (schema versions).
//
// Imports: protocol, schemas/semantic, xeipuuv/gojsonschema (this package
// is its only importer) and x/text (NFC).
package schemas
