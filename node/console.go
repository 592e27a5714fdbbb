package node

import (
	"time"

	"github.com/ecrn/crvsx/node/console"
	"github.com/ecrn/crvsx/node/server"
)

// newConsole builds the console of this node (node/console DESIGN §1, §6,
// §12): its data is the node itself (view.Data, node/console_data.go).
func (n *Node) newConsole() (*console.Console, error) {
	return console.New(console.Options{
		Data:             n,
		Tokens:           n.adminTokens,
		LoginLimiter:     server.NewClientLimiter(5, 12*time.Second, 30, time.Second),
		VerifyLimiter:    server.NewClientLimiter(10, time.Second, 20, 200*time.Millisecond),
		AssumeTLS:        n.cfg.Listen.AllowRemotePlaintext,
		ShowPersonalData: n.cfg.Console.ShowPersonalData,
		Location:         time.Local,
		Now:              n.now,
		Log:              n.outside,
	})
}
