package console

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// DESIGN §8: the languages, English first (the fallback).
var languages = []string{"en", "ru", "tr"}

//go:embed i18n/*.json
var catalogueFS embed.FS

// catalogue is one language's key → text.
type catalogue map[string]string

// loadCatalogues reads the embedded catalogues.
func loadCatalogues() (map[string]catalogue, error) {
	out := map[string]catalogue{}
	for _, l := range languages {
		b, err := catalogueFS.ReadFile("i18n/" + l + ".json")
		if err != nil {
			return nil, fmt.Errorf("console: catalogue %s: %w", l, err)
		}
		var c catalogue
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("console: catalogue %s: %w", l, err)
		}
		out[l] = c
	}
	return out, nil
}

// T is a translation of key with fmt arguments. A missing key (which the
// completeness test forbids) shows as the key itself, never a panic.
func (c catalogue) T(key string, args ...any) string {
	s, ok := c[key]
	if !ok {
		return key
	}
	if len(args) == 0 || !strings.Contains(s, "%") {
		return s // a text without verbs ignores the row's arguments
	}
	return fmt.Sprintf(s, args...)
}

// Has reports whether key exists (for optional keys like a code's reason).
func (c catalogue) Has(key string) bool { _, ok := c[key]; return ok }

// chooseLanguage is DESIGN §8: the cookie, else Accept-Language, else en.
func chooseLanguage(r *http.Request) string {
	if ck, err := r.Cookie(langCookie); err == nil && slices.Contains(languages, ck.Value) {
		return ck.Value
	}
	return fromAcceptLanguage(r.Header.Get("Accept-Language"))
}

// fromAcceptLanguage picks the supported language with the highest
// q-value (the first among equals); "en" when none matches.
func fromAcceptLanguage(h string) string {
	best, bestQ := "en", 0.0
	if len(h) > 1024 {
		h = h[:1024]
	}
	for _, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if p := strings.TrimSpace(params); strings.HasPrefix(p, "q=") {
			v, err := strconv.ParseFloat(p[2:], 64)
			if err != nil || v < 0 || v > 1 {
				continue
			}
			q = v
		}
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if slices.Contains(languages, primary) && q > bestQ {
			best, bestQ = primary, q
		}
	}
	return best
}

// Or is the translation of prefix+"."+value for a value from the data (a
// status, an event), or the value itself when the catalogue has none.
func (c catalogue) Or(prefix, value string) string {
	if s, ok := c[prefix+"."+value]; ok {
		return s
	}
	return value
}
