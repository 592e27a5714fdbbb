package protocol

// StatusQuestion is one question a status.query may ask and the member of
// a status.attestation's answers that answers it (SPEC §11.2: "answers only
// on unique-match, only for the questions asked").
type StatusQuestion struct {
	Question string // status-query.schema.json: payload.questions[]
	Member   string // status-attestation.schema.json: payload.answers
}

// StatusQuestions are the questions of schema bundle 1.0.0, in the order
// of the attestation schema's answers members (the order answers are
// shown in). The one table of them: the node's answers, the semantic
// check of an attestation against its query and the console read it.
var StatusQuestions = []StatusQuestion{
	{"is-registered", "isRegistered"},
	{"has-birth-record", "hasBirthRecord"},
	{"vital-status", "vitalStatus"},
	{"civil-status", "civilStatus"},
	{"citizenship-confirmed", "citizenshipConfirmed"},
	{"identity-document-valid", "identityDocumentValid"},
}

// AnswerMember is the answers member that answers question q.
func AnswerMember(q string) (string, bool) {
	for _, s := range StatusQuestions {
		if s.Question == q {
			return s.Member, true
		}
	}
	return "", false
}

// QuestionOf is the question that answers member m answers.
func QuestionOf(m string) (string, bool) {
	for _, s := range StatusQuestions {
		if s.Member == m {
			return s.Question, true
		}
	}
	return "", false
}
