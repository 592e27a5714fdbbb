package records

import (
	"context"
	"errors"
	"fmt"

	"github.com/ecrn/crvsx/node/records/match"
	"github.com/ecrn/crvsx/protocol"
)

// Facts are what answers are computed from (DESIGN.md R1). Each yes/no
// fact is Yes, No or Unknown; CivilStatus is one of CivilStatuses.
type Facts struct {
	HasBirthRecord        string
	DeathRegistered       string
	CivilStatus           string
	CitizenshipConfirmed  string
	IdentityDocumentValid string
	// Withheld marks a protected subject: the node refuses with
	// refusalReason subject-protected and answers nothing.
	Withheld bool
}

// Protected reports whether the subject must be refused (refusalReason
// subject-protected).
func (f Facts) Protected() bool { return f.Withheld }

// Candidate is a record a subject could be.
type Candidate struct {
	Person match.Person
	Facts  Facts
}

// Source finds the records a subject could be; the decision is match.Match's.
type Source interface {
	Candidates(ctx context.Context, s match.Subject) ([]Candidate, error)
}

// ErrTooManyCandidates is returned by a Source whose lookup keys retrieve
// more records than it hands over: Lookup answers insufficient-data (the
// subject cannot discriminate), never a decision over a part of them.
var ErrTooManyCandidates = errors.New("records: too many records share the subject's details")

// reasonTooMany is match's reason for the same outcome (DESIGN.md M2).
const reasonTooMany = "too many records share these details; add an identifier or more details"

// Lookup runs the source and the matching core: the result, and on
// unique-match the facts (DESIGN.md R4). A source error is returned as is
// (the HTTP adapter's is an UNAVAILABLE *protocol.Error): never a guess.
func Lookup(ctx context.Context, src Source, s match.Subject) (match.Result, Facts, error) {
	cands, err := src.Candidates(ctx, s)
	if errors.Is(err, ErrTooManyCandidates) {
		return match.Result{Outcome: match.InsufficientData, Reason: reasonTooMany}, Facts{}, nil
	}
	if err != nil {
		return match.Result{}, Facts{}, err
	}
	people := make([]match.Person, len(cands))
	byID := make(map[string]int, len(cands))
	for i, c := range cands {
		if _, dup := byID[c.Person.ID]; dup || c.Person.ID == "" {
			return match.Result{}, Facts{}, fmt.Errorf("records: the source gave candidate id %q twice or empty", c.Person.ID)
		}
		byID[c.Person.ID] = i
		people[i] = c.Person
	}
	res := match.Match(s, people)
	if res.Outcome != match.UniqueMatch {
		return res, Facts{}, nil
	}
	return res, cands[byID[res.PersonID]].Facts, nil
}

// Answer maps the asked questions to the status.attestation answers object
// (DESIGN.md R5), keyed by answers member (protocol.AnswerMember). A
// question it does not know is left out (the schema has refused it
// before).
func Answer(f Facts, questions []string) map[string]string {
	out := map[string]string{}
	for _, q := range questions {
		if v, ok := AnswerTo(f, q); ok {
			m, _ := protocol.AnswerMember(q)
			out[m] = v
		}
	}
	return out
}

// AnswerTo is the answer to one question (R5); false for a question it
// does not know. vitalStatus is no-death-registered or death-registered,
// never "alive"; unknown facts are "unknown".
func AnswerTo(f Facts, q string) (string, bool) {
	switch q {
	case "is-registered":
		return Yes, true // a unique match is a record of this registry
	case "has-birth-record":
		return yesNo(f.HasBirthRecord), true
	case "vital-status":
		switch f.DeathRegistered {
		case Yes:
			return "death-registered", true
		case No:
			return "no-death-registered", true
		}
		return Unknown, true
	case "civil-status":
		for _, c := range CivilStatuses {
			if f.CivilStatus == c {
				return c, true
			}
		}
		return Unknown, true
	case "citizenship-confirmed":
		return yesNo(f.CitizenshipConfirmed), true
	case "identity-document-valid":
		return yesNo(f.IdentityDocumentValid), true
	}
	return "", false
}

func yesNo(v string) string {
	if v == Yes || v == No {
		return v
	}
	return Unknown
}
