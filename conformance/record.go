package conformance

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// A suite directory keeps every report its runs wrote (DESIGN.md §6):
// DIR/reports/<time>-<hash>.json, the canonical JSON, and
// DIR/reports/SHA256SUMS, one "<sha256>  <file>" line a run, appended. A
// certificate names a report by its SHA-256; `certify` issues one only for
// a report this directory's runs wrote, so an edited report — even one
// kept canonical — is refused for its hash.

// ReportsDir is the directory of a suite's reports, under the suite's dir.
const ReportsDir = "reports"

// ledgerFile lists the hashes of the reports written.
const ledgerFile = "SHA256SUMS"

// Modules returns the "plan/module" name of every module of the suite, in
// the order they run: what a full run reports on.
func Modules() []string {
	var out []string
	for _, m := range (&env{}).modules() {
		out = append(out, m.plan+"/"+m.name)
	}
	return out
}

// Missing returns the modules of the suite that r has no result for (a run
// limited by --plan, --only or --no-local).
func (r *Report) Missing() []string {
	have := map[string]bool{}
	for _, x := range r.Results {
		have[x.Plan+"/"+x.Module] = true
	}
	var out []string
	for _, m := range Modules() {
		if !have[m] {
			out = append(out, m)
		}
	}
	return out
}

// SaveReport writes r's canonical JSON into dir's reports and records its
// hash in the ledger. The report file is complete on disk (written, synced,
// renamed) before its line is appended; it returns the file's path and the
// hash.
func SaveReport(dir string, r *Report) (path, sum string, err error) {
	b, err := MarshalReport(r)
	if err != nil {
		return "", "", err
	}
	sum = ReportSHA256(b)
	rd := filepath.Join(dir, ReportsDir)
	if err := os.MkdirAll(rd, 0o755); err != nil {
		return "", "", err
	}
	name := r.Started.UTC().Format("20060102T150405Z") + "-" + sum[:12] + ".json"
	path = filepath.Join(rd, name)
	if err := writeAtomic(path, b); err != nil {
		return "", "", err
	}
	f, err := os.OpenFile(filepath.Join(rd, ledgerFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return "", "", err
	}
	if _, err := fmt.Fprintf(f, "%s  %s\n", sum, name); err != nil {
		f.Close()
		return "", "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", "", err
	}
	return path, sum, f.Close()
}

// Recorded reports whether the ledger of dir lists sum: a report that one
// of its runs wrote.
func Recorded(dir, sum string) (bool, error) {
	f, err := os.Open(filepath.Join(dir, ReportsDir, ledgerFile))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if h, _, ok := strings.Cut(sc.Text(), "  "); ok && h == sum {
			return true, nil
		}
	}
	return false, sc.Err()
}

// LatestReport returns the path of the newest report in dir's reports, or
// "" when there is none.
func LatestReport(dir string) (string, error) {
	names, err := filepath.Glob(filepath.Join(dir, ReportsDir, "*.json"))
	if err != nil {
		return "", err
	}
	if len(names) == 0 {
		return "", nil
	}
	sort.Strings(names) // the names start with the run's UTC time
	return names[len(names)-1], nil
}

// writeAtomic writes b to path through a synced temporary file renamed
// into place, then syncs the directory: a reader never sees half a report,
// and a report written survives a power cut (its hash is what a
// certificate names).
func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".report-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// ReadReport reads and parses a report file, at most MaxReportBytes.
func ReadReport(path string) (*Report, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxReportBytes+1)); err != nil {
		return nil, nil, err
	}
	r, err := ParseReport(buf.Bytes())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, buf.Bytes(), nil
}
