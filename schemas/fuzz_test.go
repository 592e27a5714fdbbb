package schemas

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ecrn/crvsx/protocol"
)

// FuzzValidate feeds arbitrary bytes to Validate, seeded with every
// fixture and rule case (and the committed corpus in
// testdata/fuzz/FuzzValidate). Properties:
//
//   - no panic and no internal error: every input gets a verdict;
//   - the verdict is deterministic (the same on a second call);
//   - the decoder equals encoding/json followed by NFC;
//   - the fast path and the published message.schema.json agree on the
//     verdict and on the issues.
func FuzzValidate(f *testing.F) {
	fx := allFixtures(f)
	for _, name := range sortedKeys(fx) {
		f.Add(fx[name])
	}
	v := Default()
	f.Fuzz(func(t *testing.T, msg []byte) {
		res, err := v.Validate(msg)
		first := verdictString(t, res, err)
		res, err = v.Validate(msg)
		if again := verdictString(t, res, err); again != first {
			t.Fatalf("not deterministic:\n%s\n%s", first, again)
		}
		sameDecoding(t, v.names, msg)
		samePublishedVerdict(t, v, "fuzz", msg)
	})
}

// verdictString renders a verdict completely; it fails on an internal
// error, which no input may cause.
func verdictString(t *testing.T, res *Result, err error) string {
	t.Helper()
	if err != nil {
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			t.Fatalf("internal error: %v", err)
		}
		return fmt.Sprintf("%s %s %v", pe.Code, pe.Pointer, pe.Issues)
	}
	return fmt.Sprintf("ok %s %s %v %v", res.SchemaVersion, res.MessageType, res.Warnings, res.Doc)
}
