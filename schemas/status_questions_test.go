package schemas

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/stretchr/testify/require"
)

// protocol.StatusQuestions is the one table of the questions of a
// status.query and the answers members of a status.attestation (SPEC
// §11.2). It must say what the bundle says: the query schema's questions
// enum, and the attestation schema's answers members in their order.
func TestStatusQuestionsAreTheBundles(t *testing.T) {
	read := func(name string, v any) {
		t.Helper()
		b, err := bundleFS.ReadFile("1.0.0/" + name)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, v))
	}
	var query queryVocabulary
	read("status-query.schema.json", &query)
	var att struct {
		Definitions struct {
			Payload struct {
				Properties struct {
					Answers struct {
						Properties json.RawMessage `json:"properties"`
					} `json:"answers"`
				} `json:"properties"`
			} `json:"payload"`
		} `json:"definitions"`
	}
	read("status-attestation.schema.json", &att)
	members := orderedKeys(t, att.Definitions.Payload.Properties.Answers.Properties)

	var questions, answerMembers []string
	for _, s := range protocol.StatusQuestions {
		questions = append(questions, s.Question)
		answerMembers = append(answerMembers, s.Member)
	}
	require.Equal(t, query.Definitions.Payload.Properties.Questions.Items.Enum, questions)
	require.Equal(t, members, answerMembers)
	for _, s := range protocol.StatusQuestions {
		m, ok := protocol.AnswerMember(s.Question)
		require.True(t, ok)
		require.Equal(t, s.Member, m)
		q, ok := protocol.QuestionOf(s.Member)
		require.True(t, ok)
		require.Equal(t, s.Question, q)
	}
	_, ok := protocol.AnswerMember("is-alive")
	require.False(t, ok, "no question outside the bundle")
}

// orderedKeys lists the member names of a JSON object in document order.
func orderedKeys(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok)
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		keys = append(keys, k.(string))
		var skip json.RawMessage
		require.NoError(t, dec.Decode(&skip))
	}
	return keys
}

// protocol/trust's closed vocabularies of a requester (REGISTRY.md §2.1)
// are the bundle's: the organisation types and consent bases of
// status.query, its questions, and purposes that are envelope purposes.
func TestRequesterVocabulariesAreTheBundles(t *testing.T) {
	var query queryVocabulary
	var common struct {
		Definitions struct {
			Purpose struct {
				Enum []string `json:"enum"`
			} `json:"purpose"`
		} `json:"definitions"`
	}
	for name, v := range map[string]any{"status-query.schema.json": &query, "common.schema.json": &common} {
		b, err := bundleFS.ReadFile("1.0.0/" + name)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, v))
	}
	p := query.Definitions.Payload.Properties
	sorted := func(s []string) []string { return slices.Sorted(slices.Values(s)) }
	require.Equal(t, sorted(p.Requester.Properties.OrganizationType.Enum), trust.RequesterOrganizationTypes())
	require.Equal(t, sorted(p.Consent.Properties.Basis.Enum), trust.RequesterConsentBases())
	require.Equal(t, sorted(p.Questions.Items.Enum), trust.RequesterQuestions())
	require.NotEmpty(t, trust.RequesterPurposes())
	for _, purpose := range trust.RequesterPurposes() {
		require.Contains(t, common.Definitions.Purpose.Enum, purpose)
	}
}

// queryVocabulary is what the tests above read of status-query.schema.json.
type queryVocabulary struct {
	Definitions struct {
		Payload struct {
			Properties struct {
				Requester struct {
					Properties struct {
						OrganizationType struct {
							Enum []string `json:"enum"`
						} `json:"organizationType"`
					} `json:"properties"`
				} `json:"requester"`
				Consent struct {
					Properties struct {
						Basis struct {
							Enum []string `json:"enum"`
						} `json:"basis"`
					} `json:"properties"`
				} `json:"consent"`
				Questions struct {
					Items struct {
						Enum []string `json:"enum"`
					} `json:"items"`
				} `json:"questions"`
			} `json:"properties"`
		} `json:"payload"`
	} `json:"definitions"`
}
