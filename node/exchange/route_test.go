package exchange_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/protocoltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const validExamples = "../../schemas/testdata/valid"

// example loads a realistic message of the schema bundle's examples.
func example(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(validExamples, name+".json"))
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b, &doc))
	return doc
}

// set replaces the value at an RFC 6901 pointer (no escapes) of doc.
func set(t *testing.T, doc map[string]any, pointer string, v any) {
	t.Helper()
	toks := strings.Split(pointer, "/")[1:]
	var cur any = doc
	for i, tok := range toks {
		last := i == len(toks)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[tok] = v
				return
			}
			cur = c[tok]
		case []any:
			n, err := strconv.Atoi(tok)
			require.NoError(t, err)
			if last {
				c[n] = v
				return
			}
			cur = c[n]
		default:
			t.Fatalf("pointer %s: %q is not in the document", pointer, tok)
		}
	}
}

type edit struct {
	pointer string
	value   any
}

func cc(codes ...string) []any {
	out := make([]any, len(codes))
	for i, c := range codes {
		out[i] = c
	}
	return out
}

func TestRoute(t *testing.T) {
	tests := []struct {
		name    string
		example string
		edits   []edit
		self    string
		want    []string
		err     error
	}{
		// The realistic cases of the network.
		{name: "ok/death-of-a-turkish-citizen-in-almaty-from-kz", example: "death-kazakh-citizen-in-tashkent", self: "KZ",
			edits: []edit{{"/payload/deceased/citizenships", cc("TR")}}, want: []string{"TR"}},
		{name: "ok/death-of-a-kazakh-citizen-in-tashkent-from-uz", example: "death-kazakh-citizen-in-tashkent", self: "UZ", want: []string{"KZ"}},
		{name: "ok/birth-of-a-tajik-child-in-istanbul-from-tr", example: "live-birth-tajik-child-in-istanbul", self: "TR", want: []string{"TJ"}},
		{name: "ok/marriage-of-an-uzbek-and-a-turkish-citizen-in-tashkent", example: "marriage-uzbek-turkish-couple-in-tashkent", self: "UZ", want: []string{"TR"}},
		{name: "ok/divorce-of-spouses-with-dual-citizenship-goes-to-both", example: "divorce-of-marriage-registered-in-uzbekistan", self: "KZ",
			edits: []edit{{"/payload/spouses/0/person/citizenships", cc("UZ", "TR")}, {"/payload/spouses/1/person/citizenships", cc("KZ", "TJ")}},
			want:  []string{"TJ", "TR", "UZ"}},
		{name: "ok/divorce-sorted-without-duplicates", example: "divorce-of-marriage-registered-in-uzbekistan", self: "KZ",
			edits: []edit{{"/payload/spouses/0/person/citizenships", cc("UZ", "TR")}, {"/payload/spouses/1/person/citizenships", cc("TR", "UZ")}},
			want:  []string{"TR", "UZ"}},
		{name: "ok/annulment-of-a-tajik-kyrgyz-marriage-from-tj", example: "annulment-bigamous-marriage-in-dushanbe", self: "TJ", want: []string{"KG"}},
		{name: "ok/judicial-separation-in-istanbul-from-tr", example: "judicial-separation-in-istanbul", self: "TR", want: []string{"KZ"}},
		{name: "ok/fetal-death-of-a-kyrgyz-mother-in-almaty", example: "fetal-death-kyrgyz-mother-in-almaty", self: "KZ", want: []string{"KG"}},
		{name: "ok/birth-unknown-father", example: "live-birth-unknown-father", self: "KZ", want: []string{"KG"}},
		{name: "ok/birth-stateless-mother-tajik-father", example: "live-birth-stateless-mother-with-soviet-passport", self: "UZ", want: []string{"TJ"}},
		{name: "ok/birth-parents-of-two-countries", example: "live-birth-tajik-child-in-istanbul", self: "TR",
			edits: []edit{{"/payload/father/person/citizenships", cc("KG")}}, want: []string{"KG", "TJ"}},
		{name: "ok/birth-child-citizenship-not-yet-recorded", example: "live-birth-tajik-child-in-istanbul", self: "TR",
			edits: []edit{{"/payload/child/citizenships", cc()}, {"/payload/child/nationalityStatus", "undetermined"}}, want: []string{"TJ"}},

		// Non-refoulement.
		{name: "ok/refugee-country-excluded", example: "marriage-mononym-afghan-refugee-in-vahdat", self: "TJ", want: []string{"KG"}},
		{name: "ok/refugee-country-excluded-though-the-other-spouse-holds-it", example: "marriage-mononym-afghan-refugee-in-vahdat", self: "TJ",
			edits: []edit{{"/payload/spouses/1/person/citizenships", cc("KG", "AF")}}, want: []string{"KG"}},
		{name: "ok/asylum-seeker-country-excluded", example: "marriage-mononym-afghan-refugee-in-vahdat", self: "TJ",
			edits: []edit{{"/payload/spouses/0/person/nationalityStatus", "asylum-seeker"}}, want: []string{"KG"}},
		{name: "ok/refugee-parent-country-excluded-from-a-birth", example: "live-birth-tajik-child-in-istanbul", self: "TR",
			edits: []edit{{"/payload/mother/person/citizenships", cc("AF")}, {"/payload/mother/person/nationalityStatus", "refugee"}}, want: []string{"TJ"}},
		{name: "fail/refugee-country-is-the-only-one", example: "death-afghan-refugee-reported-to-unhcr", self: "KG", err: exchange.ErrNoRoute},
		{name: "fail/refugee-child-and-parents", example: "live-birth-tajik-child-in-istanbul", self: "TR",
			edits: []edit{{"/payload/father/person/nationalityStatus", "refugee"}}, err: exchange.ErrNoRoute},

		// Own country never; stateless none.
		{name: "fail/own-country-never", example: "live-birth-tajik-child-in-istanbul", self: "TJ", err: exchange.ErrNoRoute},
		{name: "ok/own-country-removed", example: "divorce-of-marriage-registered-in-uzbekistan", self: "UZ", want: []string{"KZ"}},
		{name: "fail/stateless-deceased", example: "death-kazakh-citizen-in-tashkent", self: "UZ",
			edits: []edit{{"/payload/deceased/citizenships", cc()}, {"/payload/deceased/nationalityStatus", "stateless"}}, err: exchange.ErrNoRoute},
		{name: "fail/unidentified-deceased", example: "death-unidentified-deceased", self: "TR", err: exchange.ErrNoRoute},

		// No default route.
		{name: "fail/adoption-recipients-required", example: "adoption-sealed-full-adoption-in-almaty", self: "KZ", err: exchange.ErrRecipientsRequired},
		{name: "fail/legitimation-recipients-required", example: "legitimation-by-subsequent-marriage-in-samarkand", self: "UZ", err: exchange.ErrRecipientsRequired},
		{name: "fail/recognition-recipients-required", example: "recognition-of-paternity-in-bishkek", self: "KG", err: exchange.ErrRecipientsRequired},
		{name: "fail/cancellation-recipients-required", example: "record-cancellation-duplicate-birth-registration", self: "TJ", err: exchange.ErrRecipientsRequired},
		{name: "fail/status-query-recipients-required", example: "status-query-border-agency-asks-kazakhstan", self: "TR", err: exchange.ErrRecipientsRequired},
		{name: "fail/receipt-recipients-required", example: "receipt-accepted-with-warnings", self: "TJ", err: exchange.ErrRecipientsRequired},
		{name: "fail/unknown-type-recipients-required", example: "death-kazakh-citizen-in-tashkent", self: "UZ",
			edits: []edit{{"/messageType", "event.emigration"}}, err: exchange.ErrRecipientsRequired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := example(t, tc.example)
			for _, e := range tc.edits {
				set(t, doc, e.pointer, e.value)
			}
			got, err := exchange.Route(doc, tc.self)
			if tc.err != nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, tc.err)
				assert.Equal(t, protocol.CodeBadRequest, protocol.CodeOf(err))
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.NotContains(t, got, tc.self)
		})
	}
}

func TestRouteIsPure(t *testing.T) {
	doc := example(t, "divorce-of-marriage-registered-in-uzbekistan")
	before, err := json.Marshal(doc)
	require.NoError(t, err)
	_, err = exchange.Route(doc, "KZ")
	require.NoError(t, err)
	after, err := json.Marshal(doc)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after))
}

// Nothing a national system submits can crash the routing.
func TestRouteOddDocuments(t *testing.T) {
	for _, doc := range []map[string]any{
		nil,
		{},
		{"messageType": 7},
		{"messageType": "event.death"},
		{"messageType": "event.death", "payload": "x"},
		{"messageType": "event.marriage", "payload": map[string]any{"spouses": "x"}},
		{"messageType": "event.marriage", "payload": map[string]any{"spouses": []any{1, nil, map[string]any{"person": 3}}}},
		{"messageType": "event.death", "payload": map[string]any{"deceased": map[string]any{"citizenships": []any{1, "tr", "TUR", nil}}}},
	} {
		got, err := exchange.Route(doc, "KZ")
		assert.Error(t, err, "%v", doc)
		assert.Nil(t, got)
	}
}

// Every routable example, routed from its registering country, gives
// per-recipient messages the schemas and the semantic layer accept: the
// routing and the citizenship-notification rule agree.
func TestRouteThenPrepareEveryExample(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(validExamples, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	routed := 0
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			doc := example(t, name)
			self, _ := doc["sender"].(map[string]any)["country"].(string)
			if self == "" {
				// An international organisation's query (SPEC §1: its
				// node has no country): no member's national system sends it.
				assert.True(t, strings.HasPrefix(doc["sender"].(map[string]any)["nodeId"].(string), "INT-"))
				return
			}
			to, err := exchange.Route(doc, self)
			if err != nil {
				assert.Equal(t, protocol.CodeBadRequest, protocol.CodeOf(err))
				return
			}
			routed++
			for _, r := range to {
				msg, err := exchange.PrepareRouted(doc, endpointOf(self), endpointOf(r), protocoltest.NewUUID(), protocoltest.NewUUID(), rcNow)
				require.NoError(t, err, "to %s", r)
				var m map[string]any
				require.NoError(t, json.Unmarshal(msg, &m))
				assert.Equal(t, exchange.PurposeCitizenship, m["purpose"])
			}
		})
	}
	assert.GreaterOrEqual(t, routed, 15)
}

func TestPrepare(t *testing.T) {
	template := example(t, "marriage-uzbek-turkish-couple-in-tashkent")
	template["purpose"] = "residence-notification"
	before, err := json.Marshal(template)
	require.NoError(t, err)
	self := protocol.Endpoint{NodeID: "UZ-MOJ-FHDYO", Country: "UZ"}
	id, sub := protocoltest.NewUUID(), protocoltest.NewUUID()

	msg, err := exchange.PrepareRouted(template, self, endpointOf("TR"), id, sub, time.Date(2026, 11, 27, 15, 4, 5, 0, time.FixedZone("UZT", 5*3600)))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(msg, &m))
	assert.Equal(t, map[string]any{"nodeId": "UZ-MOJ-FHDYO", "country": "UZ"}, m["sender"])
	assert.Equal(t, map[string]any{"nodeId": "TR-NVI-CRVS", "country": "TR"}, m["recipient"])
	assert.Equal(t, id, m["messageId"])
	assert.Equal(t, sub, m["correlationId"])
	assert.Equal(t, "2026-11-27T10:04:05Z", m["createdAt"])
	assert.Equal(t, "citizenship-notification", m["purpose"])
	assert.Equal(t, template["payload"], m["payload"])

	after, err := json.Marshal(template)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "the template is not modified")

	// Prepare keeps the template's purpose.
	msg, err = exchange.Prepare(template, self, endpointOf("TR"), id, sub, rcNow)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(msg, &m))
	assert.Equal(t, "residence-notification", m["purpose"])

	// The message verifies at the recipient once signed.
	uz := protocoltest.MustNewMember("UZ", jws.AlgES256)
	tr := endpointOf("TR")
	msg, err = exchange.PrepareRouted(template, self, tr, id, sub, rcNow)
	require.NoError(t, err)
	v := &exchange.Verifier{Keys: uz.TrustView(), Typ: protocol.TypEvent, Recipient: &tr, Skew: time.Minute, MaxAge: time.Hour}
	got, err := v.Verify(uz.Sign(protocol.TypEvent, msg), rcNow)
	require.NoError(t, err)
	assert.Equal(t, id, got.Envelope.MessageID)
}

func TestPrepareRefuses(t *testing.T) {
	self := endpointOf("TJ")
	tests := []struct {
		name      string
		example   string
		routed    bool
		recipient protocol.Endpoint
		messageID string
		code      protocol.Code
		issue     string
	}{
		{name: "fail/citizenship-notification-to-a-country-no-subject-holds", example: "marriage-mononym-afghan-refugee-in-vahdat", routed: true,
			recipient: endpointOf("KZ"), code: protocol.CodeSemanticInvalid, issue: "PURPOSE_RECIPIENT_NOT_CITIZENSHIP"},
		{name: "fail/refugee-reported-to-the-country-of-citizenship", example: "marriage-mononym-afghan-refugee-in-vahdat",
			recipient: endpointOf("AF"), code: protocol.CodeSemanticInvalid, issue: "REFUGEE_REPORTED_TO_CITIZENSHIP_COUNTRY"},
		{name: "fail/message-id-not-a-uuid", example: "marriage-mononym-afghan-refugee-in-vahdat", routed: true,
			recipient: endpointOf("KG"), messageID: "msg-1", code: protocol.CodeSchemaInvalid, issue: "SCHEMA_PATTERN"},
		{name: "fail/recipient-node-id-malformed", example: "marriage-mononym-afghan-refugee-in-vahdat", routed: true,
			recipient: protocol.Endpoint{NodeID: "kg node", Country: "KG"}, code: protocol.CodeSchemaInvalid, issue: "SCHEMA_PATTERN"},
		{name: "fail/status-query-is-not-an-outbox-message", example: "status-query-border-agency-asks-kazakhstan",
			recipient: endpointOf("KZ"), code: protocol.CodeBadRequest},
		{name: "fail/receipt-is-not-an-outbox-message", example: "receipt-accepted-with-warnings",
			recipient: endpointOf("TR"), code: protocol.CodeBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.messageID
			if id == "" {
				id = protocoltest.NewUUID()
			}
			prep := exchange.Prepare
			if tc.routed {
				prep = exchange.PrepareRouted
			}
			msg, err := prep(example(t, tc.example), self, tc.recipient, id, protocoltest.NewUUID(), rcNow)
			require.Error(t, err)
			assert.Nil(t, msg)
			assert.Equal(t, tc.code, protocol.CodeOf(err), "%v", err)
			if tc.issue != "" {
				var pe *protocol.Error
				require.ErrorAs(t, err, &pe)
				assert.True(t, slices.ContainsFunc(pe.Issues, func(is protocol.Issue) bool { return is.Code == tc.issue }), "%v", pe.Issues)
			}
		})
	}
}
