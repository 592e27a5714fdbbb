// Package samples holds the message templates of `crvsx devnet`: the event
// messages its demo submits to the three nodes of the embedded network
// (Tajikistan TJ-MOJ-CRVS, Türkiye TR-NVI-CRVS, Kazakhstan KZ-MOJ-CRVS).
//
// Each template is a complete, realistic message of schema bundle 1.0.0
// that passes the schemas and the semantic layer (schemas/semantic/RULES.md)
// as it is, without a single warning: names in the region's scripts, TCKN and
// IIN numbers with valid check digits (an IIN also matching its holder's
// birth date and sex), dates in 2026 before 2026-11-20. Its sender is the node
// that registered the event and its recipient the node that
// node/exchange.Route chooses for it, with purpose citizenship-notification.
// A node fills in sender, recipient, messageId, createdAt, correlationId and,
// when it routes the message, purpose (node/exchange.Prepare,
// PrepareRouted): the template's own values there are only what makes the
// file valid by itself.
//
//	birth-tajik-child-in-istanbul.json                 TR → TJ  live birth in İstanbul, Tajik parents resident in Türkiye
//	death-turkish-citizen-in-almaty.json               KZ → TR  death in Almaty of a Turkish engineer, cause of death in ICD-10
//	divorce-of-marriage-registered-in-tajikistan.json  TR → TJ  İstanbul court divorce of a marriage registered in Dushanbe
//	marriage-tajik-kazakh-couple-in-dushanbe.json      TJ → KZ  marriage in Dushanbe of a Tajik and a Kazakh citizen
//	birth-kazakh-child-in-istanbul.json                TR → KZ  live birth in İstanbul of a Kazakh child
//
// The templates are embedded and read-only: Get and Names return fresh
// copies, so the package is safe for concurrent use and a caller may modify
// what it gets.
//
// Imports: the standard library only.
package samples

import (
	"embed"
	"io/fs"
	"strings"
)

//go:embed *.json
var files embed.FS

// ext is the extension of every template file.
const ext = ".json"

// Get returns a copy of the template called name — a file name of Names,
// with or without its ".json" — or nil when there is none.
func Get(name string) []byte {
	if !strings.HasSuffix(name, ext) {
		name += ext
	}
	if !fs.ValidPath(name) || strings.Contains(name, "/") {
		return nil
	}
	// embed.FS keeps the file as a string: ReadFile returns a new slice.
	b, err := files.ReadFile(name)
	if err != nil {
		return nil
	}
	return b
}

// Names returns the file names of the templates (e.g.
// "birth-tajik-child-in-istanbul.json"), sorted, in a new slice.
func Names() []string {
	entries, err := files.ReadDir(".")
	if err != nil {
		panic("samples: reading the embedded templates: " + err.Error()) // cannot happen: the directory is embedded
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
