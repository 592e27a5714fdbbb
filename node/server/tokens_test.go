package server

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokensFiles(t *testing.T) {
	toks, err := ParseTokens([]byte("# national system\nnsr " + strings.Repeat("a", 40) + "\n\nbackup " + strings.Repeat("b", 40) + "\n"))
	require.NoError(t, err)
	assert.Len(t, toks, 2)
	for name, in := range map[string]string{
		"fail/one-field":      "tokenalone\n",
		"fail/duplicate-name": "a x\na y\n",
		"fail/empty":          "# nothing\n",
	} {
		_, err := ParseTokens([]byte(in))
		assert.Error(t, err, name)
	}
	for in, want := range map[string]string{"nsr secret1\nother secret2\n": "secret1", "# c\n  alone  \n": "alone"} {
		got, err := FirstToken([]byte(in))
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err = FirstToken([]byte("# only a comment\n"))
	assert.Error(t, err)
	_, err = LoadTokens([]byte("nsr short\n"))
	assert.Error(t, err, "a token shorter than 32 characters")
}
