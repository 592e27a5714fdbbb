package trust

import "github.com/ecrn/crvsx/protocol/jws"

// DefaultPolicy is the policy a new network starts from unless its
// founders decide otherwise: ES256 and EdDSA; two thirds of the active
// members (at least 2) for every network command (the requester commands
// use member.admit's and member.suspend's, REGISTRY.md §2); 5 minutes of clock
// skew; commands valid for a day; proposals open for 14 days; 15 minutes
// of staleness before a node fails closed.
func DefaultPolicy() Policy {
	th := map[string]Threshold{}
	for _, typ := range RequiredThresholdTypes() {
		th[typ] = Threshold{Numerator: 2, Denominator: 3, Minimum: 2}
	}
	return Policy{
		Algorithms:              []string{jws.AlgES256, jws.AlgEdDSA},
		Thresholds:              th,
		ClockSkewSeconds:        300,
		MaxCommandAgeSeconds:    86400,
		ProposalLifetimeSeconds: 14 * 86400,
		StalenessBoundSeconds:   900,
	}
}
