// Package match decides whom a status.query is about: given the query's
// subject and the registry's records, it answers unique-match, no-match,
// multiple-candidates or insufficient-data, and names the record only on a
// unique match. The keys, the decision rule and the measured numbers are in
// node/records/DESIGN.md §"Matching" (M1–M4); the code quotes it.
//
// Guarantees:
//
//   - Pure and deterministic: no I/O, no clock (Evaluate alone reads it,
//     to time the queries), no global state it writes;
//     the same subject and records give the same Result, whatever their
//     order.
//   - Never panics on any input (ParseSubject and Match are fuzzed).
//   - Conservative: a unique match only when one record passes and no
//     other comes within the margin; never a guess. A name the records
//     hold is never read as a typo of another (M2), so the answer about
//     one record depends on the names the others hold: Match reads them
//     from the candidates it is given, an Index from all its records.
//
// An *Index is immutable after NewIndex and safe for concurrent use; so are
// the functions. Generate and Evaluate build the synthetic test set and the
// metrics that `crvsx bench match` prints.
//
// Imports: schemas/semantic (FoldName, partial dates, check digits).
package match
