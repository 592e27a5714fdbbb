package console

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ecrn/crvsx/node/console/view"
	"github.com/ecrn/crvsx/protocol"
)

// The operators' pages on view.Data (DESIGN §11, §12).

// dataFailed answers a Data error (DESIGN §7).
func (c *Console) dataFailed(w http.ResponseWriter, r *http.Request, ss *session, err error) {
	switch {
	case errors.Is(err, view.ErrNotFound):
		c.fail(w, r, ss, http.StatusNotFound, "error.notfound", string(protocol.CodeNotFound))
	case errors.Is(err, view.ErrInvalid):
		c.fail(w, r, ss, http.StatusBadRequest, "error.invalid", string(protocol.CodeBadRequest))
	case errors.Is(err, view.ErrConflict):
		c.fail(w, r, ss, http.StatusConflict, "error.conflict", "")
	case errors.Is(err, ErrUnavailable):
		c.fail(w, r, ss, http.StatusNotImplemented, "error.unavailable", "")
	case errors.Is(err, context.Canceled):
		// the client left
	default:
		c.opt.Log.Error("console: data failed", slog.String("path", r.URL.Path), slog.Any("err", err))
		c.fail(w, r, ss, http.StatusInternalServerError, "error.internal", string(protocol.CodeInternal))
	}
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, ss *session) {
	o, err := c.opt.Data.Overview(r.Context(), c.opt.Now())
	if err != nil {
		c.dataFailed(w, r, ss, err)
		return
	}
	p := c.newPage(w, r, ss, "overview.title")
	p.Nav, p.Data = "overview", o
	c.render(w, r, http.StatusOK, "overview", p)
}

// windows are the traffic page's choices (DESIGN §12), in the selector's
// order; defaultWindow when none is asked for.
var windows = []struct {
	Name string
	D    time.Duration
}{{"1h", time.Hour}, {"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}}

const defaultWindow = "24h"

// trafficData is the traffic page: the view, its window, its charts (drawn
// here, with the reader's language), and the result of a retry.
type trafficData struct {
	view.Traffic
	Window           string
	Windows          []string
	ChartOut         template.HTML
	ChartIn          template.HTML
	RefusedRows      []refusedRow
	Retried          string
	ShowPersonalData bool
}

// refusedRow is a problem code, how often, and one recent refusal's
// message page ("audit/<seq>"), if listed.
type refusedRow struct {
	Code  string
	Count int
	Ref   string
}

func (c *Console) traffic(w http.ResponseWriter, r *http.Request, ss *session) {
	name := r.URL.Query().Get("window")
	if name == "" {
		name = defaultWindow
	}
	var window time.Duration
	for _, wd := range windows {
		if wd.Name == name {
			window = wd.D
		}
	}
	if window == 0 {
		c.fail(w, r, ss, http.StatusBadRequest, "error.badform", "")
		return
	}
	t, err := c.opt.Data.Traffic(r.Context(), window, c.opt.Now())
	if err != nil {
		c.dataFailed(w, r, ss, err)
		return
	}
	if !c.opt.ShowPersonalData { // DESIGN §12: ids and types only
		for i := range t.DeadLetters {
			t.DeadLetters[i].Reason = ""
		}
		for i := range t.Refusals {
			t.Refusals[i].Detail = ""
		}
	}
	p := c.newPage(w, r, ss, "traffic.title")
	d := trafficData{Traffic: t, Window: name, Retried: r.URL.Query().Get("retried"), ShowPersonalData: c.opt.ShowPersonalData}
	for _, wd := range windows {
		d.Windows = append(d.Windows, wd.Name)
	}
	d.ChartOut = c.chart(p.L, t, t.OutChart, "traffic.out", "out")
	d.ChartIn = c.chart(p.L, t, t.InChart, "traffic.in", "in")
	for _, cc := range t.RefusedBy {
		row := refusedRow{Code: cc.Code, Count: cc.Count}
		if rf, ok := t.RefusalFor(cc.Code); ok {
			row.Ref = "audit/" + strconv.FormatUint(rf.AuditSeq, 10)
		}
		d.RefusedRows = append(d.RefusedRows, row)
	}
	p.Nav, p.Data = "traffic", d
	c.render(w, r, http.StatusOK, "traffic", p)
}

// chart draws one traffic chart (view.LineChart) with its title and
// description in the reader's language; the x labels are the buckets'
// starts in the node's zone.
func (c *Console) chart(l catalogue, t view.Traffic, series []view.Series, titleKey, id string) template.HTML {
	layout, unit := "15:04", "traffic.bucket.hour"
	switch {
	case t.Bucket < time.Hour:
		unit = "traffic.bucket.5min"
	case t.Bucket >= 24*time.Hour:
		layout, unit = "01-02", "traffic.bucket.day"
	}
	var labels []string
	for _, b := range t.BucketStarts {
		labels = append(labels, b.In(c.opt.Location).Format(layout))
	}
	title := l.T(titleKey)
	return view.LineChart(series, view.ChartOptions{
		Title:     title,
		Desc:      l.T("traffic.chart.desc", title, l.T(unit), view.FormatTime(t.Since, c.opt.Location), view.FormatTime(t.Until, c.opt.Location)),
		XLabels:   labels,
		EmptyText: l.T("traffic.no-data"),
		ID:        "chart-" + id + "-svg",
	})
}

func (c *Console) message(w http.ResponseWriter, r *http.Request, ss *session) {
	m, err := c.opt.Data.Message(r.Context(), r.PathValue("id"))
	if err != nil {
		c.dataFailed(w, r, ss, err)
		return
	}
	if !c.opt.ShowPersonalData {
		m.RefusalDetail = ""
	}
	p := c.newPage(w, r, ss, "message.title")
	p.Nav, p.Data = "traffic", messageData{Message: m, ReasonKey: problemKey(p.L, m.RefusalCode)}
	c.render(w, r, http.StatusOK, "message", p)
}

// messageData is a message page: the view and the catalogue key of its
// refusal's sentence.
type messageData struct {
	view.Message
	ReasonKey string
}

// problemKey is the catalogue key of a problem code's sentence:
// "problem.<CODE>", else its family's (JWS_*, PAYLOAD_*), else
// "problem.other".
func problemKey(l catalogue, code string) string {
	switch {
	case code == "":
		return ""
	case l.Has("problem." + code):
		return "problem." + code
	case strings.HasPrefix(code, "JWS_"):
		return "problem.jws"
	case strings.HasPrefix(code, "PAYLOAD_"):
		return "problem.payload"
	}
	return "problem.other"
}

func (c *Console) member(w http.ResponseWriter, r *http.Request, ss *session) {
	m, err := c.opt.Data.Member(r.Context(), r.PathValue("id"), c.opt.Now())
	if err != nil {
		c.dataFailed(w, r, ss, err)
		return
	}
	p := c.newPage(w, r, ss, "member.title")
	p.Nav, p.Data = "overview", m
	c.render(w, r, http.StatusOK, "member", p)
}

// retry is a dead letter's "retry now" (DESIGN §12): POST, CSRF-checked,
// the operator's token name in the audit entry, then back to the traffic
// page (post/redirect/get), which says so in #retried.
func (c *Console) retry(w http.ResponseWriter, r *http.Request, ss *session) {
	if !c.checkPost(w, r, ss, csrfOnlySpec) {
		return
	}
	key, err := strconv.ParseUint(r.PathValue("key"), 10, 64)
	if err != nil || key == 0 {
		c.fail(w, r, ss, http.StatusNotFound, "error.notfound", string(protocol.CodeNotFound))
		return
	}
	ref := "delivery/" + strconv.FormatUint(key, 10)
	if err := c.opt.Data.RetryDeadLetter(r.Context(), ref, ss.operator); err != nil {
		c.dataFailed(w, r, ss, err)
		return
	}
	c.opt.Log.Info("console: dead letter retried", slog.String("operator", ss.operator), slog.String("delivery", ref))
	http.Redirect(w, r, "/console/traffic?retried="+url.QueryEscape(ref), http.StatusSeeOther)
}

// approvalResult is what the registry did with an uploaded approval
// (trust.Result's fields the page shows).
type approvalResult struct {
	Index    uint64
	Type     string
	Outcome  string // accepted, proposed, approved, rejected (trust.Outcome)
	Reason   string // the rejection's reason code
	Detail   string
	Proposal string
}

// approvalData is the approvals page: the form, and the result of an
// upload.
type approvalData struct {
	Result  *approvalResult
	Problem string // a catalogue key: why the upload was not submitted
}

func (c *Console) approvalForm(w http.ResponseWriter, r *http.Request, ss *session) {
	p := c.newPage(w, r, ss, "approvals.title")
	p.Nav, p.Data = "approvals", approvalData{}
	c.render(w, r, http.StatusOK, "approvals", p)
}

// approval takes a proposal.approve signed offline ("crvsx registry
// approve --out FILE"), as a file or pasted, and submits it. The console
// holds no governance key; it refuses anything but a proposal.approve
// before submitting.
func (c *Console) approval(w http.ResponseWriter, r *http.Request, ss *session) {
	f, ok := c.postForm(w, r, ss, approvalSpec)
	if !ok {
		return
	}
	data := f.file
	if data == nil {
		data = []byte(f.get("approval"))
	}
	data = trimSpace(data)
	p := c.newPage(w, r, ss, "approvals.title")
	p.Nav = "approvals"
	if problem := checkApproval(data); problem != "" {
		p.Data = approvalData{Problem: problem}
		c.render(w, r, http.StatusUnprocessableEntity, "approvals", p)
		return
	}
	res, err := c.opt.Data.SubmitApproval(r.Context(), data)
	if err != nil {
		if errors.Is(err, view.ErrInvalid) {
			p.Data = approvalData{Problem: "approvals.notapproval"}
			c.render(w, r, http.StatusUnprocessableEntity, "approvals", p)
			return
		}
		c.dataFailed(w, r, ss, err)
		return
	}
	c.opt.Log.Info("console: approval submitted", slog.String("operator", ss.operator), slog.String("outcome", string(res.Outcome)), slog.Uint64("index", res.Index))
	p.Data = approvalData{Result: &approvalResult{Index: res.Index, Type: res.Type, Outcome: string(res.Outcome), Reason: string(res.Reason),
		Detail: res.Detail, Proposal: res.Proposal}}
	status := http.StatusOK
	if res.Outcome == "rejected" {
		status = http.StatusUnprocessableEntity
	}
	c.render(w, r, status, "approvals", p)
}
