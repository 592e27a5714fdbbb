package query

import (
	"time"

	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
)

// FromView adapts the registry's trust view (protocol/trust View,
// REGISTRY.md §2.1 and §10) to the Handler's Registry: Deps.Registry is
// FromView(reg.View) on a node. view is asked at every request, so a
// query is checked against one view, the current one; a nil view is no
// Registry (the Handler answers UNAVAILABLE).
func FromView(view func() *trust.View) func() Registry {
	return func() Registry {
		v := view()
		if v == nil {
			return nil
		}
		return viewRegistry{v}
	}
}

// viewRegistry is a Registry over one trust view.
type viewRegistry struct{ v *trust.View }

// Requester is the view's requester, whatever its status (the Handler
// refuses one that is not active: REQUESTER_SUSPENDED).
func (r viewRegistry) Requester(id string) (Requester, bool) {
	t, ok := r.v.Requester(id)
	if !ok {
		return Requester{}, false
	}
	return Requester{
		ID: t.ID, Name: t.Name, OrganizationType: t.OrganizationType, TLSSPKISHA256: t.TLSSPKISHA256,
		Countries: t.Countries, Questions: t.Questions, Bases: t.Bases, Purposes: t.Purposes,
		RatePerMinute: t.RatePerMinute, RateBurst: t.RateBurst, Status: t.Status,
	}, true
}

// RequesterKeys are the view's requester keys only: a member key is
// KEY_UNKNOWN to a query (SPEC §11.1).
func (r viewRegistry) RequesterKeys() jws.KeyLookup { return r.v.RequesterKeys() }

// RequesterKeyValidAt is the view's (REGISTRY.md §10).
func (r viewRegistry) RequesterKeyValidAt(kid string, t time.Time) error {
	return r.v.RequesterKeyValidAt(kid, t)
}
