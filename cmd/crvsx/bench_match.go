package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ecrn/crvsx/node/records/match"
	"github.com/spf13/cobra"
)

// newBenchMatchCmd is "crvsx bench match": the quality and speed of the
// status-query matcher (node/records/DESIGN.md §Matching) on a generated
// set of realistic records and queries.
func newBenchMatchCmd(e *env) *cobra.Command {
	var (
		asJSON bool
		seed   uint64
		n      int
	)
	cmd := &cobra.Command{
		Use:   "match [--json] [--records N] [--seed S]",
		Short: "Precision, recall and speed of the status-query matcher on a generated set",
		Long: `Generate N realistic registry records (Tajik, Uzbek, Kazakh, Kyrgyz and
Turkish names in Cyrillic and Latin, families, twins, cousins) and as many
queries derived from them with realistic variation (other script or
transliteration, typos, year-only dates, swapped names, identifiers only)
plus queries for people not in the set, then answer every query with the
matcher. It prints the precision and recall of unique-match, the wrong
unique matches per 10,000 queries (the target is fewer than 1), the
outcomes and the queries per second. The set is the same for a seed.
Each wrong unique match (up to 20) is listed with the query and the record
it named, so that it can be read and turned into a test; --json carries
them as "wrong".`,
		Example: `  crvsx bench match
  crvsx bench match --json --records 10000 --seed 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n < 100 || n > 1_000_000 {
				return usageError(errors.New("--records must be between 100 and 1000000"))
			}
			m := match.Evaluate(seed, n)
			if asJSON {
				return e.printJSON(m)
			}
			fmt.Fprintf(e.stdout, "records %d, queries %d (seed %d)\n", m.Records, m.Queries, m.Seed)
			fmt.Fprintf(e.stdout, "unique-match precision   %.5f\n", m.UniqueMatchPrecision)
			fmt.Fprintf(e.stdout, "unique-match recall      %.4f (of %d fully identified subjects)\n", m.UniqueMatchRecall, m.FullyIdentified)
			fmt.Fprintf(e.stdout, "wrong unique per 10,000  %.2f\n", m.WrongUniquePer10k)
			fmt.Fprintf(e.stdout, "outcomes                 %v\n", m.Outcomes)
			fmt.Fprintf(e.stdout, "queries per second       %.0f\n", m.QueriesPerSecond)
			for _, w := range m.Wrong {
				fmt.Fprintf(e.stdout, "wrong (%s): %s → %s %s\n", w.Kind, describeSubject(w.Subject), w.Matched.ID,
					describeSubject(match.Subject{Names: w.Matched.Names, BirthDate: w.Matched.BirthDate, Sex: w.Matched.Sex}))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the metrics as JSON")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "the generator's seed")
	cmd.Flags().IntVar(&n, "records", 10000, "how many records (and queries) to generate")
	return cmd
}

// describeSubject is one line of a subject for a wrong-match listing: its
// full names, birth date and sex.
func describeSubject(s match.Subject) string {
	var names []string
	for _, n := range s.Names {
		full := n.Full
		if full == "" {
			full = strings.TrimSpace(n.Given + " " + n.Family + " " + n.Patronymic)
		}
		names = append(names, fmt.Sprintf("%q", full))
	}
	d := s.BirthDate
	date := fmt.Sprintf("%04d", d.Year)
	if d.Month != 0 {
		date += fmt.Sprintf("-%02d", d.Month)
	}
	if d.Day != 0 {
		date += fmt.Sprintf("-%02d", d.Day)
	}
	return fmt.Sprintf("%s %s sex %d", strings.Join(names, " / "), date, s.Sex)
}
