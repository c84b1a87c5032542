package sim

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// Plot geometry in SVG user units (pixels).
const (
	svgW, svgH = 880, 500
	plotL      = 90  // left edge of the plot area
	plotR      = 620 // right edge
	plotT      = 70  // top edge
	plotB      = 430 // bottom edge
	legendX    = 640 // left edge of the legend
)

// Colours of the plot.
const (
	colSim       = "#d95f02"
	colAnalytic  = "#1b6fb3"
	colThreshold = "#b2182b"
	colPays      = "#fde0dd"
	colGrid      = "#e5e5e5"
)

// symbol is the short name of a parameter's critical value.
func (q Param) symbol() string {
	switch q {
	case ParamSlash:
		return "S*"
	case ParamReward:
		return "R*"
	case ParamCollusion:
		return "r*"
	}
	return "p*"
}

// WriteSVG draws a sweep as an SVG image: the simulated gain of a cheated task
// with its 95 % interval at each point, the analytic E, the zero line, the
// critical value as a vertical line, and the side of it where cheating pays
// shaded. It needs at least one point.
func WriteSVG(w io.Writer, sw Sweep) error {
	if len(sw.Points) == 0 {
		return errors.New("sim: nothing to plot: the sweep has no points")
	}
	p := newPlotter(sw)
	p.frame()
	p.regions()
	p.series()
	p.legend()
	p.b.WriteString("</svg>\n")
	_, err := w.Write(p.b.Bytes())
	return err
}

// plotter maps data to the plot area and accumulates the SVG text.
type plotter struct {
	sw             Sweep
	x0, x1, y0, y1 float64 // data ranges shown
	b              bytes.Buffer
}

func newPlotter(sw Sweep) *plotter {
	p := &plotter{sw: sw, x0: math.Inf(1), x1: math.Inf(-1), y0: 0, y1: 0}
	for _, r := range sw.Points {
		x := r.Get(sw.Param)
		p.x0, p.x1 = min(p.x0, x), max(p.x1, x)
		p.y0 = min(p.y0, r.ProfitLow, r.Expected)
		p.y1 = max(p.y1, r.ProfitHigh, r.Expected)
	}
	if p.x1 == p.x0 {
		p.x0, p.x1 = p.x0-0.5, p.x1+0.5
	}
	pad := 0.06 * (p.y1 - p.y0)
	if pad == 0 {
		pad = 0.5
	}
	p.y0, p.y1 = p.y0-pad, p.y1+pad
	return p
}

func (p *plotter) px(x float64) float64 { return plotL + (x-p.x0)/(p.x1-p.x0)*(plotR-plotL) }
func (p *plotter) py(y float64) float64 { return plotB - (y-p.y0)/(p.y1-p.y0)*(plotB-plotT) }

func (p *plotter) printf(format string, a ...any) { fmt.Fprintf(&p.b, format, a...) }

// text writes an escaped text element.
func (p *plotter) text(x, y float64, attrs, s string) {
	p.printf(`<text x="%.1f" y="%.1f" %s>`, x, y, attrs)
	xml.EscapeText(&p.b, []byte(s))
	p.b.WriteString("</text>\n")
}

// frame writes the header, title, grid, axes, ticks and axis labels.
func (p *plotter) frame() {
	sw := p.sw
	p.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		svgW, svgH, svgW, svgH)
	p.printf(`<rect width="%d" height="%d" fill="white"/>`+"\n", svgW, svgH)
	p.text(svgW/2, 26, `text-anchor="middle" font-size="16" font-weight="bold"`,
		fmt.Sprintf("PoSP: what a cheater gains per cheated task, against %s", sw.Param.Label()))
	b, first := sw.Base, sw.Points[0]
	fixed := ""
	for _, q := range allParams {
		if q != sw.Param {
			fixed += fmt.Sprintf("%s = %s, ", q.name(), trim(b.Get(q)))
		}
	}
	colluders := fmt.Sprintf(", %d colluders", first.Colluders)
	if sw.Param == ParamCollusion {
		colluders = ""
	}
	p.text(svgW/2, 46, `text-anchor="middle" fill="#444"`,
		fmt.Sprintf("%smoney in units of C; %d trials × %d executions × %d tasks, %d nodes (%d cheaters%s), seed %d",
			fixed, first.Trials, first.Executions, first.TasksPerExecution, first.Nodes, first.Cheaters, colluders, first.Seed))
	for _, x := range ticks(p.x0, p.x1) {
		X := p.px(x)
		p.printf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", X, plotT, X, plotB, colGrid)
		p.printf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black"/>`+"\n", X, plotB, X, plotB+5)
		p.text(X, plotB+19, `text-anchor="middle"`, tickLabel(x, p.x0, p.x1))
	}
	for _, y := range ticks(p.y0, p.y1) {
		Y := p.py(y)
		p.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`+"\n", plotL, Y, plotR, Y, colGrid)
		p.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="black"/>`+"\n", plotL-5, Y, plotL, Y)
		p.text(plotL-8, Y+4, `text-anchor="end"`, tickLabel(y, p.y0, p.y1))
	}
	p.printf(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>`+"\n", plotL, plotT, plotR-plotL, plotB-plotT)
	p.text((plotL+plotR)/2, plotB+45, `text-anchor="middle" font-size="14"`, sw.Param.Label())
	cy := float64(plotT+plotB) / 2
	p.text(28, cy, fmt.Sprintf(`text-anchor="middle" font-size="14" transform="rotate(-90 28 %.1f)"`, cy),
		"gain per cheated task vs honest (units of C)")
}

// regions shades the side of the critical value where cheating pays, draws
// the zero line and the critical value.
func (p *plotter) regions() {
	zero := p.py(0)
	crit := p.sw.Critical
	lo, hi := p.x0, p.x1 // the x range where E > 0
	if p.sw.Param == ParamCollusion {
		lo = max(lo, crit)
	} else {
		hi = min(hi, crit)
	}
	if hi > lo {
		p.printf(`<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" fill-opacity="0.6"/>`+"\n",
			p.px(lo), plotT, p.px(hi)-p.px(lo), plotB-plotT, colPays)
		p.text((p.px(lo)+p.px(hi))/2, plotT+16, `text-anchor="middle" fill="#8c2d04"`, "cheating pays")
	}
	p.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="black" stroke-width="1.2"/>`+"\n", plotL, zero, plotR, zero)
	if b := p.sw.Base.Get(p.sw.Param); b >= p.x0 && b <= p.x1 {
		X := p.px(b)
		p.printf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#777" stroke-width="1" stroke-dasharray="2 3"/>`+"\n", X, plotT, X, plotB)
		p.text(X+4, plotT+32, `fill="#555"`, fmt.Sprintf("given %s = %s", p.sw.Param.name(), trim(b)))
	}
	if crit >= p.x0 && crit <= p.x1 {
		X := p.px(crit)
		p.printf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="2" stroke-dasharray="6 4"/>`+"\n",
			X, plotT, X, plotB, colThreshold)
		p.text(X+5, plotB-8, fmt.Sprintf(`fill="%s"`, colThreshold), fmt.Sprintf("%s = %.4g", p.sw.Param.symbol(), crit))
	}
}

// series draws the analytic line and the simulated points with their
// interval bars.
func (p *plotter) series() {
	p.printf(`<polyline fill="none" stroke="%s" stroke-width="2" points="`, colAnalytic)
	for i, r := range p.sw.Points {
		if i > 0 {
			p.b.WriteByte(' ')
		}
		p.printf("%.1f,%.1f", p.px(r.Get(p.sw.Param)), p.py(r.Expected))
	}
	p.b.WriteString(`"/>` + "\n")
	for _, r := range p.sw.Points {
		X, lo, hi := p.px(r.Get(p.sw.Param)), p.py(r.ProfitLow), p.py(r.ProfitHigh)
		p.printf(`<g stroke="%s" stroke-width="1.5"><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, colSim, X, lo, X, hi)
		p.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/></g>`+"\n",
			X-4, lo, X+4, lo, X-4, hi, X+4, hi)
		p.printf(`<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`+"\n", X, p.py(r.ProfitMean), colSim)
	}
}

// legend explains the marks, right of the plot area.
func (p *plotter) legend() {
	y := float64(plotT + 10)
	x := float64(legendX)
	p.printf(`<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`, x+12, y, colSim)
	p.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5"/>`+"\n", x+12, y-8, x+12, y+8, colSim)
	p.text(x+30, y+4, "", "simulated mean, 95 % CI")
	y += 26
	p.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`+"\n", x, y, x+24, y, colAnalytic)
	p.text(x+30, y+4, "", "analytic E = C − p(1−r)(R+S)")
	y += 26
	p.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2" stroke-dasharray="6 4"/>`+"\n",
		x, y, x+24, y, colThreshold)
	p.text(x+30, y+4, "", fmt.Sprintf("threshold %s (E = 0)", p.sw.Param.symbol()))
	if p.sw.Param == ParamP {
		p.text(x+30, y+20, `fill="#444"`, "p* = C / ((1−r)(R+S))")
		y += 16
	}
	y += 26
	p.printf(`<rect x="%.1f" y="%.1f" width="24" height="14" fill="%s"/>`+"\n", x, y-7, colPays)
	p.text(x+30, y+4, "", "cheating pays (E > 0)")
}

// name is the parameter's symbol in formulas.
func (q Param) name() string {
	switch q {
	case ParamSlash:
		return "S"
	case ParamReward:
		return "R"
	case ParamCollusion:
		return "r"
	}
	return "p"
}

// ticks returns about six round values covering [lo, hi].
func ticks(lo, hi float64) []float64 {
	step := tickStep(lo, hi)
	var t []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		t = append(t, v)
	}
	return t
}

// tickStep is 1, 2 or 5 times a power of ten, about a sixth of the range.
func tickStep(lo, hi float64) float64 {
	raw := (hi - lo) / 6
	if !(raw > 0) {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// tickLabel formats v with as many decimals as the tick step needs, with a
// typographic minus sign.
func tickLabel(v, lo, hi float64) string {
	d := max(0, -int(math.Floor(math.Log10(tickStep(lo, hi))+1e-9)))
	return strings.Replace(fmt.Sprintf("%.*f", d, v), "-", "−", 1)
}

// trim formats v briefly (0.08, 10, 0.1).
func trim(v float64) string { return fmt.Sprintf("%.4g", v) }
