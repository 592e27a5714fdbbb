// Package console is the HTTP shell of the node's web console (issue 12;
// DESIGN.md here is normative): server-rendered pages under /console/ for
// operators on the admin listener, behind a login with an admin token
// (server-side sessions, CSRF tokens on every form, a strict
// Content-Security-Policy), and the public verify page, which checks a
// status attestation or a signed message of the exchange (DESIGN §13) —
// pasted, uploaded, or read from a photo of its QR code — against the
// node's trust view and says so in the reader's language (English,
// Russian, Turkish).
//
// Handlers translate HTTP to calls on Data (view.Data), which the node implements;
// templates, the stylesheet and the message catalogues are embedded. No
// page has script. The package holds sessions in memory and is safe for
// concurrent use.
//
// Imports: node/console/view (the view models and Data), node/internal/httpio
// (request ids), protocol, protocol/attest
// (verdicts), protocol/attest/qr (QR photos) and the standard library;
// rate limiting comes in as the Limiter interface (node/server's
// ClientLimiter, the owner of x/time).
package console
