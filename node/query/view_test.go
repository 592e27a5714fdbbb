package query

import (
	"net/http"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
	"github.com/stretchr/testify/require"
)

// viewNet is a test network (TJ, TR, KZ) with INT-UNHCR registered by TJ
// and TR: its key k and its registered TLS pin.
type viewNet struct {
	n   *trusttest.Network
	s   *trust.State
	k   *jws.Signer
	pin string
}

func newViewNet(t *testing.T) *viewNet {
	t.Helper()
	n := trusttest.New(t, "TJ", "TR", "KZ")
	k := n.RequesterKey(unhcr)
	s := n.MustApply(n.State(), n.Sign(n.Command(trust.CmdRequesterRegister, "TJ",
		trust.RequesterRegisterArgs{Requester: n.RequesterSpec(unhcr, k)}), n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
	return &viewNet{n: n, s: s, k: k, pin: trusttest.RequesterPin(unhcr)}
}

func (v *viewNet) apply(t *testing.T, typ, issuer string, args any) {
	t.Helper()
	v.n.Advance(time.Minute)
	v.s = v.n.MustApply(v.s, v.n.Sign(v.n.Command(typ, issuer, args), v.n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
}

// TestFromView is SPEC §11.2 steps 1 and 2 against the registry's real
// trust view (protocol/trust View through FromView): the requester
// registered by governance is answered; its keys are the requesters' keys
// only; a suspended requester, an unknown key, a member's key and a key
// retired before createdAt are refused with their codes.
func TestFromView(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, v *viewNet) *requesterKey // the key that signs; nil: the registered one
		code  protocol.Code
	}{
		{name: "ok/registered-active-requester"},
		{name: "2/suspended-requester/REQUESTER_SUSPENDED", code: protocol.CodeRequesterSuspended,
			setup: func(t *testing.T, v *viewNet) *requesterKey {
				v.apply(t, trust.CmdRequesterSuspend, "TJ", trust.RequesterSuspendArgs{Requester: unhcr, Reason: "audit"})
				return nil
			}},
		{name: "1/key-not-in-the-registry/KEY_UNKNOWN", code: protocol.CodeKeyUnknown,
			setup: func(t *testing.T, _ *viewNet) *requesterKey { return newRequesterKey(t, unhcr) }},
		{name: "1/member-signing-key-never-verifies-a-query/KEY_UNKNOWN", code: protocol.CodeKeyUnknown,
			setup: func(t *testing.T, v *viewNet) *requesterKey {
				s := v.n.Member("TJ").Sig
				return &requesterKey{signer: s, key: s.Public()}
			}},
		{name: "1/key-retired-before-createdAt/KEY_NOT_VALID", code: protocol.CodeKeyNotValid,
			setup: func(t *testing.T, v *viewNet) *requesterKey {
				// REGISTRY.md §7.1: a key dropped by requester.update is
				// retired at the update; the query is created after it.
				old := v.k
				rs := v.n.RequesterSpec(unhcr, v.n.RequesterKey(unhcr))
				v.apply(t, trust.CmdRequesterUpdate, "TJ", trust.RequesterUpdateArgs{Requester: rs})
				return &requesterKey{signer: old, key: old.Public()}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			v := newViewNet(t)
			key := &requesterKey{signer: v.k, key: v.k.Public()}
			if tc.setup != nil {
				if k := tc.setup(t, v); k != nil {
					key = k
				}
			}
			require.True(t, t0.After(v.s.ConsensusTime().Time()), "the query is created after the registry's last entry")
			view := trust.NewView(v.s)
			e.viewFn = func() *trust.View { return view }
			e.key = key
			w := e.post(e.signQuery(baseQuery(qid)), v.pin)
			require.Equal(t, tc.code, problemCode(t, w), w.Body.String())
			if tc.code == "" {
				p := e.attestation(w.Body.Bytes())["payload"].(map[string]any)
				require.Equal(t, "unique-match", p["matchResult"])
				require.Equal(t, qid, p["inResponseTo"])
			}
		})
	}
}

// TestFromViewRequesterFields: the adapter gives the Handler the
// registry's requester field for field (REGISTRY.md §2.1), and no
// Registry at all without a view (the Handler's UNAVAILABLE).
func TestFromViewRequesterFields(t *testing.T) {
	v := newViewNet(t)
	view := trust.NewView(v.s)
	reg := FromView(func() *trust.View { return view })()
	got, ok := reg.Requester(unhcr)
	require.True(t, ok)
	tr, _ := view.Requester(unhcr)
	require.Equal(t, Requester{ID: tr.ID, Name: tr.Name, OrganizationType: tr.OrganizationType, TLSSPKISHA256: tr.TLSSPKISHA256,
		Countries: tr.Countries, Questions: tr.Questions, Bases: tr.Bases, Purposes: tr.Purposes, RatePerMinute: 60, RateBurst: 10, Status: RequesterActive}, got)
	require.Equal(t, trust.StatusActive, RequesterActive)
	_, ok = reg.Requester("INT-IOM")
	require.False(t, ok)
	_, ok = reg.RequesterKeys().LookupKey(v.n.Member("TJ").Sig.Kid())
	require.False(t, ok, "a member key is not a requester key")

	require.Nil(t, FromView(func() *trust.View { return nil })())
	e := newEnv(t)
	e.viewFn = func() *trust.View { return nil }
	w := e.post(e.signQuery(baseQuery(qid)), unhcrPin)
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Equal(t, protocol.CodeUnavailable, problemCode(t, w))
}
