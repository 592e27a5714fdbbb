package console

import (
	"errors"

	"github.com/ecrn/crvsx/node/console/view"
)

// Data is what the console reads and does at its node: view.Data, which
// *node.Node implements (node/console_data.go); the tests use a fake.
// Every method is called with the request's context and must be safe for
// concurrent use. It is the console's one source of data (DESIGN §11).
type Data = view.Data

// Errors of Data the pages answer (DESIGN §7): view.ErrNotFound is 404,
// view.ErrInvalid 400, view.ErrConflict 409; ErrUnavailable 501.
var (
	// ErrNotFound: no such member, message or dead letter (404 page).
	ErrNotFound = view.ErrNotFound
	// ErrUnavailable: this node cannot give it (a page says so; never
	// made-up numbers).
	ErrUnavailable = errors.New("console: not available on this node")
)
