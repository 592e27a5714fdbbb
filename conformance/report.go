package conformance

import "time"

// ReportFormat is the "format" of a JSON report.
const ReportFormat = "crvsx-conformance-report/1"

// Report is the outcome of a run: every module of every plan that applied,
// passed or not.
type Report struct {
	Format    string    `json:"format"`
	Suite     string    `json:"suite"`     // Version
	Network   string    `json:"network"`   // the genesis hash of the suite's network
	Candidate string    `json:"candidate"` // member id
	Node      string    `json:"node"`      // node id
	Target    string    `json:"target"`    // the peer URL tested
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	Results   []Result  `json:"results"`
}

// Result is one module's outcome.
type Result struct {
	Plan     string      `json:"plan"` // receiver, sender, registry
	Module   string      `json:"module"`
	Cite     string      `json:"cite"` // the requirement tested
	Passed   bool        `json:"passed"`
	Failures []Condition `json:"failures,omitempty"` // the conditions that did not hold
	Request  string      `json:"request,omitempty"`  // what was sent, truncated
	Answer   string      `json:"answer,omitempty"`   // what came back, truncated
	Took     float64     `json:"tookSeconds"`
}

// Condition is one check that did not hold: what was expected and what was
// observed.
type Condition struct {
	Check    string `json:"check"`
	Expected string `json:"expected"`
	Observed string `json:"observed"`
}

// Passed reports whether every module passed (and there was at least one).
func (r *Report) Passed() bool {
	if len(r.Results) == 0 {
		return false
	}
	for _, x := range r.Results {
		if !x.Passed {
			return false
		}
	}
	return true
}

// Counts returns how many modules passed and failed.
func (r *Report) Counts() (passed, failed int) {
	for _, x := range r.Results {
		if x.Passed {
			passed++
		} else {
			failed++
		}
	}
	return passed, failed
}
