package timeline

import (
	"fmt"
	"image/color"
	"io"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Panel is one panel of the chart: a title, a y-axis label and its lines.
type Panel struct {
	Title  string
	YLabel string
	Lines  []Line
	// States labels the y axis with breaker states (0 closed, 1
	// half-open, 2 open) instead of numbers.
	States bool
}

// Line is one series of a panel. X is in the unit of Timeline.XUnit.
type Line struct {
	Name   string
	X, Y   []float64
	Dashed bool
}

// Chart sizes.
const (
	chartWidth  = 10 * vg.Inch
	panelHeight = 2 * vg.Inch
	// PNGDPI is the resolution of PNG charts.
	PNGDPI = 80
)

// XUnit returns the unit the chart's time axis uses, by the run's
// length, and its name: seconds up to 10 minutes, minutes up to 3 hours,
// hours beyond.
func (tl *Timeline) XUnit() (time.Duration, string) {
	switch d := time.Duration(tl.Duration); {
	case d <= 10*time.Minute:
		return time.Second, "s"
	case d <= 3*time.Hour:
		return time.Minute, "min"
	}
	return time.Hour, "h"
}

// stateLevel is a state's height on the state panel.
func stateLevel(s string) float64 {
	switch s {
	case "open", "forced-open":
		return 2
	case "half-open":
		return 1
	}
	return 0
}

// Panels returns the chart's panels, top to bottom: breaker state (a step
// line), failure rate, calls and rejections, retries, and concurrency
// (attempts in flight, and the bulkhead's limit when there is one).
func (tl *Timeline) Panels() []Panel {
	unit, _ := tl.XUnit()
	x := func(d time.Duration) float64 { return float64(d) / float64(unit) }
	perSec := 1 / time.Duration(tl.Tick).Seconds()
	series := func(name string, dashed bool, y func(p *Point) float64, keep func(p *Point) bool) Line {
		l := Line{Name: name, Dashed: dashed, X: []float64{}, Y: []float64{}}
		for i := range tl.Points {
			p := &tl.Points[i]
			if keep != nil && !keep(p) {
				continue
			}
			// A count is drawn in the middle of its tick; a level at its end.
			at := time.Duration(p.At)
			l.X = append(l.X, x(at-time.Duration(tl.Tick)/2))
			l.Y = append(l.Y, y(p))
		}
		return l
	}

	// State: a step line through every transition.
	state := Line{Name: "breaker state"}
	cur := "closed"
	if len(tl.Transitions) > 0 {
		cur = tl.Transitions[0].From
	} else if len(tl.Points) > 0 {
		cur = tl.Points[0].State
	}
	state.X, state.Y = append(state.X, 0), append(state.Y, stateLevel(cur))
	for _, t := range tl.Transitions {
		at := x(time.Duration(t.At))
		state.X = append(state.X, at, at)
		state.Y = append(state.Y, stateLevel(t.From), stateLevel(t.To))
		cur = t.To
	}
	state.X, state.Y = append(state.X, x(time.Duration(tl.Duration))), append(state.Y, stateLevel(cur))

	completed := func(p *Point) bool { return p.Succeeded+p.Failed > 0 }
	failure := Panel{Title: "Failure rate", YLabel: "%", Lines: []Line{
		series("failed attempts", false, func(p *Point) float64 { return 100 * p.FailureRate }, completed),
		series("breaker window", false, func(p *Point) float64 { return 100 * p.WindowFailureRate }, nil),
		series("scenario", true, func(p *Point) float64 { return 100 * p.ScenarioFailureRate }, nil),
	}}
	calls := Panel{Title: "Calls and rejections", YLabel: "per second", Lines: []Line{
		series("calls", false, func(p *Point) float64 { return float64(p.Calls) * perSec }, nil),
		series("admitted attempts", false, func(p *Point) float64 { return float64(p.Attempts) * perSec }, nil),
		series("rejected: breaker", false, func(p *Point) float64 { return float64(p.Rejected.Open+p.Rejected.HalfOpen) * perSec }, nil),
	}}
	if tl.HasBulkhead {
		calls.Lines = append(calls.Lines, series("rejected: bulkhead", false, func(p *Point) float64 { return float64(p.Rejected.Full) * perSec }, nil))
	}
	if tl.HasRateLimit {
		calls.Lines = append(calls.Lines,
			series("rejected: rate limit", false, func(p *Point) float64 { return float64(p.Rejected.Limited) * perSec }, nil),
			series("rate limit", true, func(p *Point) float64 { return p.RateLimit }, nil))
	}
	if tl.Summary.Rejections.Throttled > 0 {
		calls.Lines = append(calls.Lines, series("rejected: throttle", false, func(p *Point) float64 { return float64(p.Rejected.Throttled) * perSec }, nil))
	}
	retries := Panel{Title: "Retries", YLabel: "per second", Lines: []Line{
		series("retries", false, func(p *Point) float64 { return float64(p.Retries) * perSec }, nil),
		series("stopped by budget", false, func(p *Point) float64 { return float64(p.BudgetExhausted) * perSec }, nil),
	}}
	limit := Panel{Title: "Concurrency", YLabel: "attempts", Lines: []Line{
		series("in flight", false, func(p *Point) float64 { return float64(p.InFlight) }, nil),
	}}
	if tl.HasBulkhead {
		limit.Lines = append(limit.Lines, series("bulkhead limit", true, func(p *Point) float64 { return float64(p.BulkheadLimit) }, nil))
	}
	return []Panel{
		{Title: fmt.Sprintf("Breaker state of %s (policy %s)", tl.Guard, tl.Policy), Lines: []Line{state}, States: true},
		failure, calls, retries, limit,
	}
}

// plots builds one gonum plot per panel.
func (tl *Timeline) plots() ([][]*plot.Plot, error) {
	_, unitName := tl.XUnit()
	panels := tl.Panels()
	out := make([][]*plot.Plot, len(panels))
	xmax := float64(time.Duration(tl.Duration))
	if u, _ := tl.XUnit(); u > 0 {
		xmax /= float64(u)
	}
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.Title
		p.Y.Label.Text = pn.YLabel
		p.X.Min, p.X.Max = 0, xmax
		p.X.Tick.Marker = timeTicks(xmax)
		if i == len(panels)-1 {
			p.X.Label.Text = "time (" + unitName + ")"
		}
		p.Add(plotter.NewGrid())
		ymax := 0.0
		for j, ln := range pn.Lines {
			xys := make(plotter.XYs, len(ln.X))
			for k := range ln.X {
				xys[k] = plotter.XY{X: ln.X[k], Y: ln.Y[k]}
			}
			l, err := plotter.NewLine(xys)
			if err != nil {
				return nil, fmt.Errorf("timeline: panel %q: line %q: %w", pn.Title, ln.Name, err)
			}
			l.Color = plotutil.Color(j)
			l.Width = vg.Points(1.2)
			if ln.Dashed {
				l.Color = color.Gray{Y: 120}
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			}
			if pn.States {
				l.Width = vg.Points(1.8)
			}
			p.Add(l)
			for _, y := range ln.Y {
				ymax = max(ymax, y)
			}
			if !pn.States {
				p.Legend.Add(ln.Name, l)
			}
		}
		p.Legend.Top = true
		p.Legend.Left = false
		if pn.States {
			p.Y.Min, p.Y.Max = -0.25, 2.25
			p.Y.Tick.Marker = plot.ConstantTicks{{Value: 0, Label: "closed"}, {Value: 1, Label: "half-open"}, {Value: 2, Label: "open"}}
		} else {
			// Headroom above the lines for the legend, which has one
			// row per line.
			p.Y.Min, p.Y.Max = 0, max(ymax, 1)*(1+0.22*float64(len(pn.Lines)))
		}
		out[i] = []*plot.Plot{p}
	}
	return out, nil
}

// timeTicks labels the time axis [0, xmax] with at most 12 round steps.
func timeTicks(xmax float64) plot.ConstantTicks {
	step := 1.0
	for _, s := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600} {
		step = s
		if xmax/s <= 12 {
			break
		}
	}
	var ticks plot.ConstantTicks
	for i := 0; float64(i)*step <= xmax+1e-9; i++ {
		v := float64(i) * step
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	return ticks
}

// draw draws the panels on c.
func (tl *Timeline) draw(c vg.CanvasSizer) error {
	plots, err := tl.plots()
	if err != nil {
		return err
	}
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(10), PadY: vg.Points(10)}
	cs := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(cs[i][0])
	}
	return nil
}

// Size returns the chart's width and height.
func (tl *Timeline) Size() (w, h vg.Length) {
	return chartWidth, vg.Length(len(tl.Panels())) * panelHeight
}

// PNG writes the chart as a PNG image at PNGDPI, on white.
func (tl *Timeline) PNG(w io.Writer) error {
	cw, ch := tl.Size()
	c := vgimg.NewWith(vgimg.UseWH(cw, ch), vgimg.UseDPI(PNGDPI), vgimg.UseBackgroundColor(color.White))
	if err := tl.draw(c); err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(w); err != nil {
		return fmt.Errorf("timeline: png: %w", err)
	}
	return nil
}

// SVG writes the chart as an SVG document (fonts named, not embedded).
func (tl *Timeline) SVG(w io.Writer) error {
	cw, ch := tl.Size()
	c := vgsvg.New(cw, ch)
	if err := tl.draw(c); err != nil {
		return err
	}
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("timeline: svg: %w", err)
	}
	return nil
}
