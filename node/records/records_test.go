package records

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ecrn/crvsx/node/records/match"
	"github.com/ecrn/crvsx/node/store"
)

func openStore(t *testing.T, path string, fault func() error) *store.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), store.FileName)
	}
	s, err := store.Open(context.Background(), path, store.Options{NoSync: fault == nil, CommitFault: fault})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Юсупова Айгуль Рустамовна, KZ, and a sister born the same year.
const (
	lineAigul  = `{"recordId":"KZ-1","names":[{"fullName":"Юсупова Айгуль Рустамовна","givenNames":"Айгуль","familyName":"Юсупова","patronymic":"Рустамовна","script":"Cyrl","language":"kk"}],"birthDate":"1990-04-03","sex":2,"birthCountry":"KZ","motherNames":[{"fullName":"Юсупова Гульнара","script":"Cyrl"}],"status":{"hasBirthRecord":"yes","deathRegistered":"no","civilStatus":"never-married","citizenshipConfirmed":"yes"}}`
	lineAsel   = `{"recordId":"KZ-2","names":[{"fullName":"Юсупова Асель","script":"Cyrl"}],"birthDate":"1992-07-11","sex":2,"birthCountry":"KZ","status":{"hasBirthRecord":"yes"}}`
	lineTwinA  = `{"recordId":"KZ-3","names":[{"fullName":"Ахметов Ерлан","script":"Cyrl"}],"birthDate":"1985","sex":1}`
	lineTwinB  = `{"recordId":"KZ-4","names":[{"fullName":"Ахметов Ерлан","script":"Cyrl"}],"birthDate":"1985","sex":1}`
	lineHidden = `{"recordId":"KZ-5","names":[{"fullName":"Сатпаев Болат","script":"Cyrl"}],"birthDate":"1970-01-02","sex":1,"withheld":true}`
)

func importLines(t *testing.T, e *Embedded, lines ...string) Report {
	t.Helper()
	rep, err := e.Import(context.Background(), []byte(strings.Join(lines, "\n")+"\n"))
	require.NoError(t, err)
	return rep
}

func latin(full, date string) match.Subject {
	d, _ := match.ParseDate(date)
	return match.Subject{Names: []match.Name{{Full: full, Script: "Latn"}}, BirthDate: d}
}

// R2: the happy path, then the same file again changes nothing.
func TestImport_CreatesThenReimportIsUnchanged(t *testing.T) {
	e := &Embedded{Store: openStore(t, "", nil)}
	rep := importLines(t, e, lineAigul, "", lineAsel)
	require.Equal(t, Report{Lines: 2, Created: 2, Errors: []LineError{}}, rep)
	rep = importLines(t, e, lineAigul, "", lineAsel)
	require.Equal(t, Report{Lines: 2, Unchanged: 2, Errors: []LineError{}}, rep)
	rep = importLines(t, e, strings.Replace(lineAsel, `"hasBirthRecord":"yes"`, `"hasBirthRecord":"no"`, 1))
	require.Equal(t, 1, rep.Updated)
}

// R2: each bad line is reported with its number, pointer and code; the
// good lines of the same request are applied.
func TestImport_PerLineErrors(t *testing.T) {
	e := &Embedded{Store: openStore(t, "", nil)}
	big := `{"recordId":"KZ-9","names":[{"fullName":"` + strings.Repeat("a", MaxLineBytes) + `","script":"Latn"}]}`
	lines := []string{
		lineAigul,                      // 1 ok
		`{"recordId":"KZ-7","names":[`, // 2 bad JSON
		"{\"recordId\":\"KZ-8\",\"names\":[{\"fullName\":\"Jose\u0301\",\"script\":\"Latn\"}]}", // 3 not NFC
		`{"recordId":"KZ-8","names":[{"fullName":"A B","script":"Latn","nick":"x"}]}`,           // 4 unknown member
		`{"names":[{"fullName":"A B","script":"Latn"}]}`,                                        // 5 no recordId
		big, // 6 too large
		`{"recordId":"KZ-8","names":[{"fullName":"A B","script":"Latn"}],"status":{"civilStatus":"single"}}`, // 7 bad value
		`{"recordId":"KZ-8","recordId":"KZ-9","names":[{"fullName":"A B","script":"Latn"}]}`,                 // 8 duplicate member
	}
	rep := importLines(t, e, lines...)
	require.Equal(t, 8, rep.Lines)
	require.Equal(t, 1, rep.Created)
	require.Equal(t, 7, rep.Rejected)
	type got struct {
		Line          int
		Pointer, Code string
	}
	var g []got
	for _, le := range rep.Errors {
		g = append(g, got{le.Line, le.Pointer, le.Code})
	}
	require.Equal(t, []got{
		{2, "/names/0", "PAYLOAD_MALFORMED"},
		{3, "", "PAYLOAD_NOT_NFC"},
		{4, "/names/0/nick", CodeUnknownMember},
		{5, "/recordId", CodeMissingMember},
		{6, "", CodeLineTooLarge},
		{7, "/status/civilStatus", CodeInvalidValue},
		{8, "/recordId", "PAYLOAD_DUPLICATE_NAME"},
	}, g)
}

func TestImport_StaleLineIsRejected(t *testing.T) {
	e := &Embedded{Store: openStore(t, "", nil)}
	newer := strings.Replace(lineAsel, `{"recordId":"KZ-2",`, `{"recordId":"KZ-2","updatedAt":"2026-02-01T00:00:00Z",`, 1)
	older := strings.Replace(lineAsel, `{"recordId":"KZ-2",`, `{"recordId":"KZ-2","updatedAt":"2025-02-01T00:00:00Z",`, 1)
	importLines(t, e, newer)
	rep := importLines(t, e, older)
	require.Equal(t, 1, rep.Rejected)
	require.Equal(t, CodeStale, rep.Errors[0].Code)
}

func TestImport_TooManyLinesRefusesTheRequest(t *testing.T) {
	e := &Embedded{Store: openStore(t, "", nil)}
	_, err := e.Import(context.Background(), []byte(strings.Repeat("{}\n", MaxRequestLines+1)))
	require.ErrorIs(t, err, ErrTooManyLines)
}

// R3: a failing commit leaves nothing of the request, and a restart keeps
// the records and their index.
func TestImport_CrashSafeAndRestartKeepsIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), store.FileName)
	var fail atomic.Bool
	s := openStore(t, path, func() error {
		if fail.Load() {
			return errors.New("fdatasync: input/output error")
		}
		return nil
	})
	e := &Embedded{Store: s}
	importLines(t, e, lineAigul)
	fail.Store(true)
	_, err := e.Import(context.Background(), []byte(lineAsel+"\n"+strings.Replace(lineAigul, `"never-married"`, `"married"`, 1)))
	require.Error(t, err)
	require.NoError(t, s.Close())

	e = &Embedded{Store: openStore(t, path, nil)}
	res, f, err := Lookup(context.Background(), e, latin("Aigul Yusupova", "1990-04-03"))
	require.NoError(t, err)
	require.Equal(t, match.UniqueMatch, res.Outcome)
	require.Equal(t, "never-married", f.CivilStatus, "the failed request changed nothing")
	res, _, err = Lookup(context.Background(), e, latin("Asel Yusupova", "1992-07-11"))
	require.NoError(t, err)
	require.Equal(t, match.NoMatch, res.Outcome, "the failed request created nothing")
}

// R4: Lookup through the embedded store, a Cyrillic record and Latin
// queries.
func TestLookup_ThroughTheStore(t *testing.T) {
	e := &Embedded{Store: openStore(t, "", nil)}
	importLines(t, e, lineAigul, lineAsel, lineTwinA, lineTwinB)
	for name, tc := range map[string]struct {
		subject match.Subject
		want    match.Outcome
		id      string
	}{
		"unique-match Latin for Cyrillic": {latin("Aigul Iusupova", "1990-04-03"), match.UniqueMatch, "KZ-1"},
		"no-match":                        {latin("Aigul Yusupova", "1991-04-03"), match.NoMatch, ""},
		"multiple-candidates":             {latin("Erlan Akhmetov", "1985"), match.MultipleCandidates, ""},
		"insufficient-data":               {match.Subject{Names: []match.Name{{Full: "Aigul Yusupova"}}}, match.InsufficientData, ""},
	} {
		t.Run(name, func(t *testing.T) {
			res, f, err := Lookup(context.Background(), e, tc.subject)
			require.NoError(t, err)
			require.Equal(t, tc.want, res.Outcome)
			require.Equal(t, tc.id, res.PersonID)
			if tc.want == match.UniqueMatch {
				require.Equal(t, Yes, f.HasBirthRecord)
			} else {
				require.Equal(t, Facts{}, f, "facts only on a unique match")
			}
		})
	}
}

func TestLookup_ProtectedSubject(t *testing.T) {
	e := &Embedded{Store: openStore(t, "", nil)}
	importLines(t, e, lineHidden)
	res, f, err := Lookup(context.Background(), e, latin("Bolat Satpaev", "1970-01-02"))
	require.NoError(t, err)
	require.Equal(t, match.UniqueMatch, res.Outcome)
	require.True(t, f.Protected())
}

// R3: filing records under match.RecordKeys and deciding over what
// match.SubjectKeys retrieves gives Index.Query's decision (M3).
func TestKeys_RetrieveWhatIndexDecidesOver(t *testing.T) {
	set := match.Generate(7, 2000)
	idx := match.NewIndex(set.People)
	filed := map[string][]int{}
	for i, p := range set.People {
		for _, k := range match.RecordKeys(p) {
			if l := filed[k]; len(l) == 0 || l[len(l)-1] != i {
				filed[k] = append(filed[k], i)
			}
		}
	}
	for qi, q := range set.Queries {
		seen := map[int]bool{}
		var cands []match.Person
		for _, k := range match.SubjectKeys(q.Subject) {
			for _, i := range filed[k] {
				if !seen[i] {
					seen[i] = true
					cands = append(cands, set.People[i])
				}
			}
		}
		want, got := idx.Query(q.Subject), match.Match(q.Subject, cands)
		require.Equal(t, want, got, "query %d", qi)
	}
}

// R5: the answers table.
func TestAnswer_Mapping(t *testing.T) {
	all := []string{"is-registered", "has-birth-record", "vital-status", "civil-status", "citizenship-confirmed", "identity-document-valid"}
	for name, tc := range map[string]struct {
		f    Facts
		q    []string
		want map[string]string
	}{
		"known facts": {Facts{HasBirthRecord: Yes, DeathRegistered: No, CivilStatus: "divorced", CitizenshipConfirmed: No, IdentityDocumentValid: Yes}, all,
			map[string]string{"isRegistered": "yes", "hasBirthRecord": "yes", "vitalStatus": "no-death-registered", "civilStatus": "divorced", "citizenshipConfirmed": "no", "identityDocumentValid": "yes"}},
		"death registered": {Facts{DeathRegistered: Yes}, []string{"vital-status"}, map[string]string{"vitalStatus": "death-registered"}},
		"unknown facts are unknown, never alive": {Facts{}, all,
			map[string]string{"isRegistered": "yes", "hasBirthRecord": "unknown", "vitalStatus": "unknown", "civilStatus": "unknown", "citizenshipConfirmed": "unknown", "identityDocumentValid": "unknown"}},
		"only the questions asked":        {Facts{HasBirthRecord: Yes, CivilStatus: "married"}, []string{"civil-status"}, map[string]string{"civilStatus": "married"}},
		"an unknown question is left out": {Facts{}, []string{"favourite-colour"}, map[string]string{}},
	} {
		t.Run(name, func(t *testing.T) { require.Equal(t, tc.want, Answer(tc.f, tc.q)) })
	}
}

// eventJWS is a stored message as the inbox holds it: only the payload
// segment is read.
func eventJWS(t *testing.T, msg map[string]any) []byte {
	b, err := json.Marshal(msg)
	require.NoError(t, err)
	return []byte("e30." + base64.RawURLEncoding.EncodeToString(b) + ".c2ln")
}

func acceptEvent(t *testing.T, s *store.Store, id, typ string, payload map[string]any) {
	jws := eventJWS(t, map[string]any{"messageType": typ, "payload": payload})
	_, _, err := s.Accept(context.Background(), store.InboundRecord{Sender: "TJ", MessageID: id, MessageType: typ, ReceivedAt: time.Now(),
		JWS: jws, PayloadDigest: [32]byte{1, byte(len(id))}, Receipt: []byte("r")})
	require.NoError(t, err)
}

func person(full, date string) map[string]any {
	return map[string]any{"names": []any{map[string]any{"fullName": full, "script": "Latn"}}, "birthDate": date, "sex": 1}
}

// R6: an accepted death or divorce updates the uniquely matched record,
// never an ambiguous one, and moves the follower's cursor.
func TestFollower_AppliesEventsToUniqueMatchesOnly(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, "", nil)
	e := &Embedded{Store: s}
	aigul := strings.Replace(lineAigul, `"sex":2`, `"sex":1`, 1) // the event persons here are sex 1
	importLines(t, e, aigul, lineTwinA, lineTwinB)
	counts := map[string]int{}
	f := &Follower{Records: e, Inbox: s, Store: s, Count: func(o string) { counts[o]++ }}
	f.Init()

	acceptEvent(t, s, "m1", "event.death", map[string]any{"deceased": person("Aigul Yusupova", "1990-04-03")})
	acceptEvent(t, s, "m2", "event.death", map[string]any{"deceased": person("Erlan Akhmetov", "1985")})
	acceptEvent(t, s, "m3", "event.live-birth", map[string]any{})
	acceptEvent(t, s, "m4", "event.divorce", map[string]any{"spouses": []any{
		map[string]any{"person": person("Aigul Yusupova", "1990-04-03")},
		map[string]any{"person": person("Nobody Here", "1960-01-01")},
	}})
	n, err := f.Step(ctx)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	acked, err := s.AckedUpTo(ctx, Consumer)
	require.NoError(t, err)
	require.EqualValues(t, 4, acked)

	res, facts, err := Lookup(ctx, e, latin("Aigul Yusupova", "1990-04-03"))
	require.NoError(t, err)
	require.Equal(t, match.UniqueMatch, res.Outcome)
	require.Equal(t, Yes, facts.DeathRegistered)
	require.Equal(t, "divorced", facts.CivilStatus)
	for _, id := range []string{"KZ-3", "KZ-4"} {
		pr, err := s.Record(ctx, id)
		require.NoError(t, err)
		require.EqualValues(t, 1, pr.Version, "%s: an ambiguous event changes nothing", id)
	}
	require.Equal(t, map[string]int{OutcomeApplied: 2, OutcomeAmbiguous: 1, OutcomeNoMatch: 1}, counts)

	n, err = f.Step(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "applied once")

	// node/store §11: the import and each applied event are in the audit
	// chain — the event's entry names its inbox record; the ambiguous and
	// unmatched events, which changed nothing, have none.
	var changes []string
	es, err := s.AuditAfter(ctx, 0, 100)
	require.NoError(t, err)
	for _, e := range es {
		if e.Kind == store.AuditRecordsChanged {
			changes = append(changes, e.Ref+" "+e.Detail)
		}
	}
	require.Equal(t, []string{
		"records/import created=3 updated=0 ids=KZ-1@1 KZ-3@1 KZ-4@1",
		"inbox/1 created=0 updated=1 ids=KZ-1@2",
		"inbox/4 created=0 updated=1 ids=KZ-1@3",
	}, changes)
}
