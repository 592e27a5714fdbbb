package registry_test

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/trust"
)

// GET /v1/registry/requesters lists the requesters (protocol/REGISTRY.md
// §2.1) like the members; GET …/{id} one of them; an unknown id is
// NOT_FOUND.
func TestAPIRequesters(t *testing.T) {
	tn := newTLSNet(t, "TJ", "TR", "KZ")
	b := newFakeBackend(tn)
	api := newAPI(t, b)
	n := tn.n

	empty := decode[registry.APIRequesters](t, do(t, api, "GET", registry.PathRequesters, "", nil))
	if empty.Requesters == nil || len(empty.Requesters) != 0 {
		t.Fatalf("no requesters must list as []: %+v", empty)
	}
	k := n.RequesterKey("INT-UNHCR")
	cmd := n.Command(trust.CmdRequesterRegister, "TJ", trust.RequesterRegisterArgs{Requester: n.RequesterSpec("INT-UNHCR", k)})
	if res, err := b.apply(n.Sign(cmd, n.Gov("TJ", "TR")...)); err != nil || res.Outcome != trust.OutcomeAccepted {
		t.Fatalf("%+v %v", res, err)
	}
	all := decode[registry.APIRequesters](t, do(t, api, "GET", registry.PathRequesters, "", nil))
	if len(all.Requesters) != 1 || all.AppliedIndex != b.State().AppliedIndex() {
		t.Fatalf("%+v", all)
	}
	one := decode[registry.APIRequesters](t, do(t, api, "GET", registry.PathRequesters+"/INT-UNHCR", "", nil))
	if len(one.Requesters) != 1 {
		t.Fatalf("%+v", one)
	}
	r := one.Requesters[0]
	if r.ID != "INT-UNHCR" || r.Status != trust.StatusActive || len(r.Keys) != 1 || r.Keys[0].Kid != k.Kid() || r.Rate.PerMinute != 60 || len(r.Countries) != 3 {
		t.Fatalf("%+v", r)
	}
	do(t, api, "GET", registry.PathRequesters+"/INT-IOM", "", nil).wantProblem(t, 404, protocol.CodeNotFound, trust.ReasonNotFound)
}

// A requester's client TLS key is never a Raft peer: the transport
// resolves peers by node pin only (trust.View.NodeByPin), so a registered
// requester dialling a voter is refused like an unknown key.
func TestTransportRefusesRequesterKey(t *testing.T) {
	tn := newTLSNet(t, "TJ", "TR", "KZ")
	tj, tr := tn.nodes["TJ"], tn.nodes["TR"]
	legitIn := accepting(t, tn.stream(tr, tr.cert))
	reqCert := mustNodeKey(t, "INT-UNHCR")
	n := tn.n
	rs := n.RequesterSpec("INT-UNHCR", n.RequesterKey("INT-UNHCR"))
	leaf, err := x509.ParseCertificate(reqCert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	rs.TLSSPKISHA256 = protocol.SPKIPin(leaf.RawSubjectPublicKeyInfo)
	tn.apply(n.Sign(n.Command(trust.CmdRequesterRegister, "TJ", trust.RequesterRegisterArgs{Requester: rs}), n.Gov("TJ", "TR")...))
	tn.publish()
	if _, ok := tn.view.Load().RequesterByPin(rs.TLSSPKISHA256); !ok {
		t.Fatal("the requester is not registered")
	}
	requester := tn.stream(tj, reqCert) // at TJ's address, the requester's key
	if _, err := requester.Dial(raft.ServerAddress(tr.spec.RaftAddress), time.Second); err == nil {
		t.Fatal("a requester's key got a Raft connection")
	}
	legitIn.noAccept(t)
}
