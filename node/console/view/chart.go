package view

import (
	"bytes"
	"fmt"
	"html"
	"html/template"
	"strconv"
)

// Series is one line of a chart: a name (data: a peer and a type) and one
// value per point.
type Series struct {
	Name   string
	Values []int
}

// ChartOptions lay a chart out. Title and Desc are already translated by
// the console (the chart's accessible name and description).
type ChartOptions struct {
	Width, Height int      // the plot area and axes; 0 means 640×240 (the legend adds rows below)
	Title         string   // required: the <title> and aria-label
	Desc          string   // the <desc>
	XLabels       []string // one per point; at most 8 are drawn, evenly spaced
	EmptyText     string   // drawn when there is no series or every value is 0
	ID            string   // prefix of the element ids, unique in the page; "" means "chart"
}

// Palette is the charts' fixed line colours, in series order (then
// repeated with another dash pattern). Each has a contrast ratio of at
// least 4.5:1 on the white background (WCAG AA for text, more than the
// 3:1 non-text contrast a line needs); TestPaletteContrast checks it.
var Palette = []string{"#1f4e79", "#b33c00", "#2e6b30", "#6a3d9a", "#a0153e", "#005f73", "#7a5c00", "#333333"}

// dashes tell lines apart without colour (series i has dashes[i mod 4]).
var dashes = []string{"", "6 3", "2 3", "8 3 2 3"}

const (
	textColour = "#333333" // 12.6:1 on white
	axisColour = "#595959" // 7:1 on white
	gridColour = "#d9d9d9" // decorative
	legendRow  = 20
)

// LineChart is LineChartSVG as template.HTML, for embedding in a page. Its
// text is escaped here, so it is safe to embed.
func LineChart(series []Series, opts ChartOptions) template.HTML {
	return template.HTML(LineChartSVG(series, opts)) //nolint:gosec // every text is escaped by LineChartSVG
}

// LineChartSVG draws series as an accessible SVG line chart: role="img",
// an aria-label, <title> and <desc>, no script, no external reference,
// fixed palette and dash patterns, and output that depends on its inputs
// only (byte for byte).
func LineChartSVG(series []Series, opts ChartOptions) []byte {
	w, h := opts.Width, opts.Height
	if w <= 0 || h <= 0 {
		w, h = 640, 240
	}
	id := opts.ID
	if id == "" {
		id = "chart"
	}
	const left, right, top, bottom = 48, 16, 12, 32
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	total := h + legendRow*len(series)
	points := 0
	maxV := 0
	for _, s := range series {
		points = max(points, len(s.Values))
		for _, v := range s.Values {
			maxV = max(maxV, v)
		}
	}
	yMax := niceCeil(maxV)
	var b bytes.Buffer
	esc := html.EscapeString
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" aria-describedby="%s-desc" font-family="sans-serif" font-size="12">`,
		w, total, w, total, esc(opts.Title), esc(id))
	fmt.Fprintf(&b, "\n<title>%s</title>\n<desc id=\"%s-desc\">%s</desc>\n", esc(opts.Title), esc(id), esc(opts.Desc))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", w, total)
	// Grid and y axis labels: 0, half, max.
	for _, f := range []int{0, 1, 2} {
		v := yMax * f / 2
		y := float64(top) + ph - ph*float64(f)/2
		fmt.Fprintf(&b, `<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="%s" stroke-width="1"/>`+"\n", left, num(y), w-right, num(y), gridColour)
		fmt.Fprintf(&b, `<text x="%d" y="%s" text-anchor="end" fill="%s">%d</text>`+"\n", left-6, num(y+4), textColour, v)
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="1"/>`+"\n", left, top, left, h-bottom, axisColour)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="1"/>`+"\n", left, h-bottom, w-right, h-bottom, axisColour)
	x := func(i int) float64 {
		if points <= 1 {
			return float64(left) + pw/2
		}
		return float64(left) + pw*float64(i)/float64(points-1)
	}
	// X labels: at most 8, evenly spaced, the last point included.
	if n := min(len(opts.XLabels), points); n > 0 {
		step := max(1, (n+7)/8)
		for i := 0; i < n; i += step {
			fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="middle" fill="%s">%s</text>`+"\n", num(x(i)), h-bottom+18, textColour, esc(opts.XLabels[i]))
		}
	}
	if maxV == 0 {
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" fill="%s">%s</text>`+"\n", num(float64(left)+pw/2), num(float64(top)+ph/2), textColour, esc(opts.EmptyText))
	}
	for si, s := range series {
		colour := Palette[si%len(Palette)]
		dash := dashes[si%len(dashes)]
		dashAttr := ""
		if dash != "" {
			dashAttr = ` stroke-dasharray="` + dash + `"`
		}
		var pts bytes.Buffer
		for i, v := range s.Values {
			if i > 0 {
				pts.WriteByte(' ')
			}
			y := float64(top) + ph - ph*float64(v)/float64(yMax)
			pts.WriteString(num(x(i)) + "," + num(y))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", pts.String(), colour, dashAttr)
		if len(s.Values) <= 48 {
			for i, v := range s.Values {
				y := float64(top) + ph - ph*float64(v)/float64(yMax)
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="2.5" fill="%s"/>`+"\n", num(x(i)), num(y), colour)
			}
		}
		// Legend row: a line sample and the name.
		ly := h + legendRow*si + 12
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", left, ly-4, left+24, ly-4, colour, dashAttr)
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s">%s</text>`+"\n", left+32, ly, textColour, esc(s.Name))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// niceCeil rounds up to an even number up to 10, then to 2, 5 or 10 ×
// 10^k, so that the half tick is a whole number.
func niceCeil(v int) int {
	if v <= 10 {
		return max(2, v+v%2)
	}
	for p := 10; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= v {
				return m * p
			}
		}
	}
}

// num writes a coordinate with one decimal, without a trailing ".0".
func num(f float64) string {
	s := strconv.FormatFloat(f, 'f', 1, 64)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		return s[:len(s)-2]
	}
	return s
}
