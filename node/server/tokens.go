package server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// The tokens file (node Config Local.TokensFile and Admin.TokensFile):
// "name token" lines; blank lines and lines starting with # are skipped. A
// client's copy (crvsx send, inbox, node backup) may hold the token alone.

// ParseTokens reads a tokens file into name → token.
func ParseTokens(b []byte) (map[string]string, error) {
	out := map[string]string{}
	err := tokenLines(b, func(line int, f []string) error {
		if len(f) != 2 {
			return fmt.Errorf("line %d: want \"name token\"", line)
		}
		if _, dup := out[f[0]]; dup {
			return fmt.Errorf("line %d: token name %q twice", line, f[0])
		}
		out[f[0]] = f[1]
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no tokens")
	}
	return out, nil
}

// LoadTokens parses a tokens file into the token set a listener checks.
func LoadTokens(b []byte) (*Tokens, error) {
	byName, err := ParseTokens(b)
	if err != nil {
		return nil, err
	}
	return NewTokens(byName)
}

// FirstToken returns the token of the first line of a tokens file, which
// may also hold the token alone: what a client presents.
func FirstToken(b []byte) (string, error) {
	var tok string
	errFound := errors.New("found")
	err := tokenLines(b, func(_ int, f []string) error {
		tok = f[len(f)-1]
		if len(f) > 2 {
			return errors.New("want \"name token\" or the token alone")
		}
		return errFound
	})
	if err == errFound {
		return tok, nil
	}
	if err == nil {
		err = errors.New("no token (\"name token\" lines, or the token alone)")
	}
	return "", err
}

// tokenLines calls f with the fields of each line that is not blank or a
// comment, stopping at its first error.
func tokenLines(b []byte, f func(line int, fields []string) error) error {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if err := f(line, strings.Fields(s)); err != nil {
			return err
		}
	}
	return sc.Err()
}
