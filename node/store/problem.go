package store

import (
	"errors"

	"github.com/ecrn/crvsx/protocol"
)

// WriteProblem is the problem of a write the store could not take, for
// every API that writes (the peer API's messages, the local API's outbox
// and acks, status queries): a full volume is STORAGE_FULL (507), a store
// that takes no writes UNAVAILABLE (503) — both the node's state, both
// retried by the client (SPEC §7, §8.1; DESIGN.md §6). Anything else is
// returned as it is.
func WriteProblem(err error) error {
	switch {
	case errors.Is(err, ErrFull):
		return &protocol.Error{Code: protocol.CodeStorageFull, Detail: "this node's storage is full; nothing was stored, retry later", Err: err}
	case errors.Is(err, ErrUnavailable):
		return &protocol.Error{Code: protocol.CodeUnavailable, Detail: "the store takes no writes now; retry later", Err: err}
	}
	return err
}
