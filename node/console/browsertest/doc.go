// Package browsertest drives the web console (node/console) in a real
// browser: headless Chromium (Debian's chromium package; $CRVSX_CHROMIUM
// names another binary) through chromedp, against an in-process devnet
// of TJ, TR and KZ (node/devnet). Its tests are the console's "done when"
// of issue 12: log in and see the network, follow a refused message to
// its reason, retry a dead letter, upload a signed approval, verify a
// good and a tampered attestation, switch language, log out; each saves
// full-page screenshots ($CRVSX_SCREENSHOTS, else a temporary folder) and
// runs an accessibility check on every page it visits (landmarks, one
// h1, labels, accessible names, WCAG AA contrast from computed styles,
// keyboard order and visible focus — axe-core is not reachable, so the
// check is written here, and tested on pages made to break each rule).
//
// A missing browser fails the tests: it is never a reason to skip them
// (.ci/run installs chromium).
//
// The package has no code outside its tests; they live here, in the
// node/console tree, because node/console owns chromedp (cmd/archtest) and
// the tests need node/devnet, which imports the node, which imports
// node/console.
//
// Imports: the standard library only (its tests: chromedp, node,
// node/devnet, node/peer, node/query, node/records, node/server, protocol,
// protocol/jws, protocol/protocoltest and protocol/trust).
package browsertest
