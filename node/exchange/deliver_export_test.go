package exchange

import "time"

// SetWaiting installs the test hook called each time a delivery worker is
// about to block until at most until.
func (d *Deliverer) SetWaiting(f func(peer string, until time.Time)) { d.waiting = f }
