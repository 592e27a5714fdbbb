package records

import (
	"context"
	"errors"
	"fmt"

	"github.com/ecrn/crvsx/node/records/match"
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

// Questions (status.query questions) and the answers members they map to
// (status.attestation answers).
var answerKey = map[string]string{
	"is-registered":           "isRegistered",
	"has-birth-record":        "hasBirthRecord",
	"vital-status":            "vitalStatus",
	"civil-status":            "civilStatus",
	"citizenship-confirmed":   "citizenshipConfirmed",
	"identity-document-valid": "identityDocumentValid",
}

// Answer maps the asked questions to the status.attestation answers object
// (DESIGN.md R5). A question it does not know is left out (the schema has
// refused it before). vitalStatus is no-death-registered or
// death-registered, never "alive"; unknown facts are "unknown".
func Answer(f Facts, questions []string) map[string]string {
	out := map[string]string{}
	for _, q := range questions {
		key, ok := answerKey[q]
		if !ok {
			continue
		}
		var v string
		switch q {
		case "is-registered":
			v = Yes // a unique match is a record of this registry
		case "has-birth-record":
			v = yesNo(f.HasBirthRecord)
		case "vital-status":
			switch f.DeathRegistered {
			case Yes:
				v = "death-registered"
			case No:
				v = "no-death-registered"
			default:
				v = Unknown
			}
		case "civil-status":
			v = Unknown
			for _, c := range CivilStatuses {
				if f.CivilStatus == c {
					v = c
				}
			}
		case "citizenship-confirmed":
			v = yesNo(f.CitizenshipConfirmed)
		case "identity-document-valid":
			v = yesNo(f.IdentityDocumentValid)
		}
		out[key] = v
	}
	return out
}

func yesNo(v string) string {
	if v == Yes || v == No {
		return v
	}
	return Unknown
}
