package sim

import (
	"fmt"
	"image/color"
	"path/filepath"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// series is one line of a chart.
type series struct {
	name  string
	xys   plotter.XYs
	color color.Color
	dash  []vg.Length
	width vg.Length
}

// timeline returns one point per bucket of r: the bucket's middle, in
// seconds, and y(b); buckets for which ok(b) is false are left out.
func timeline(r *Result, y func(Bucket) float64, ok func(Bucket) bool) plotter.XYs {
	var xys plotter.XYs
	for _, b := range r.Buckets {
		if ok != nil && !ok(b) {
			continue
		}
		xys = append(xys, plotter.XY{X: (b.At + r.Scenario.Bucket/2).Seconds(), Y: y(b)})
	}
	return xys
}

// offered is the offered-load line of a scenario, as a multiple of C.
func offered(sc Scenario) plotter.XYs {
	var xys plotter.XYs
	for d := time.Duration(0); d <= sc.Duration(); d += sc.Bucket {
		xys = append(xys, plotter.XY{X: d.Seconds(), Y: sc.loadAt(d)})
	}
	return xys
}

// draw saves a chart of lines as dir/name.svg and dir/name.png.
func draw(dir, name, title, ylabel string, lines []series, tune func(*plot.Plot)) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "time (s)"
	p.Y.Label.Text = ylabel
	p.Add(plotter.NewGrid())
	for _, s := range lines {
		l, err := plotter.NewLine(s.xys)
		if err != nil {
			return fmt.Errorf("sim: chart %s: %s: %w", name, s.name, err)
		}
		l.Color = s.color
		l.Dashes = s.dash
		l.Width = s.width
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	p.Legend.Top = true
	p.Legend.Left = true
	if tune != nil {
		tune(p)
	}
	for _, ext := range []string{".svg", ".png"} {
		if err := p.Save(10*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, name+ext)); err != nil {
			return fmt.Errorf("sim: chart %s: %w", name, err)
		}
	}
	return nil
}

// style returns the color and dashes of the i-th contender.
func style(i int) (color.Color, []vg.Length) { return plotutil.Color(i), plotutil.Dashes(i % 3) }

// Charts draws the timelines of the overload results (goodput, p99
// latency, concurrency limit) and of the mix results (goodput by
// criticality) into dir, as SVG and PNG:
// adaptive-goodput, adaptive-latency, adaptive-limit and shed-mix.
func Charts(dir string, overload, mix []*Result) error {
	if len(overload) == 0 || len(mix) == 0 {
		return fmt.Errorf("sim: charts need results of both scenarios")
	}
	sc := overload[0].Scenario
	capacity := sc.Capacity()
	bucketSecs := sc.Bucket.Seconds()
	gray := color.Gray{Y: 140}

	goodput := []series{{name: "offered load", xys: offered(sc), color: gray, width: vg.Points(1.5), dash: []vg.Length{vg.Points(4), vg.Points(3)}}}
	latency := []series{}
	limits := []series{}
	for i, r := range overload {
		c, dash := style(i)
		goodput = append(goodput, series{name: r.Name, color: c, dash: dash, width: vg.Points(1.2),
			xys: timeline(r, func(b Bucket) float64 { return float64(b.Succeeded) / bucketSecs / capacity }, nil)})
		latency = append(latency, series{name: r.Name, color: c, dash: dash, width: vg.Points(1.2),
			xys: timeline(r, func(b Bucket) float64 { return float64(pct(b.Latencies, 0.99)) / 1e6 },
				func(b Bucket) bool { return len(b.Latencies) > 0 })})
		if r.Buckets[len(r.Buckets)/2].Limit > 0 {
			limits = append(limits, series{name: r.Name, color: c, dash: dash, width: vg.Points(1.2),
				xys: timeline(r, func(b Bucket) float64 { return float64(b.Limit) }, func(b Bucket) bool { return b.Limit > 0 })})
		}
	}
	if err := draw(dir, "adaptive-goodput", fmt.Sprintf("Goodput under a ramp to 3×C (C = %.0f/s)", capacity),
		"successful calls / C", goodput, nil); err != nil {
		return err
	}
	if err := draw(dir, "adaptive-latency", "p99 latency of completed calls (capped at the 1s client deadline)",
		"p99 latency (ms, log)", latency, func(p *plot.Plot) {
			p.Y.Scale = plot.LogScale{}
			p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
			p.Y.Min, p.Y.Max = 5, 2000
		}); err != nil {
		return err
	}
	if err := draw(dir, "adaptive-limit", "Concurrency limit", "limit (calls in flight)", limits, nil); err != nil {
		return err
	}

	msc := mix[0].Scenario
	var lines []series
	for i, r := range mix {
		c, _ := style(i)
		lines = append(lines,
			series{name: r.Name + ": critical", color: c, width: vg.Points(1.6),
				xys: timeline(r, func(b Bucket) float64 { return float64(b.SucceededBy[2]) / bucketSecs / capacity }, nil)},
			series{name: r.Name + ": sheddable", color: c, width: vg.Points(1.2), dash: []vg.Length{vg.Points(2), vg.Points(2)},
				xys: timeline(r, func(b Bucket) float64 { return float64(b.SucceededBy[0]) / bucketSecs / capacity }, nil)})
	}
	critOffered := offered(msc)
	for i := range critOffered {
		critOffered[i].Y *= msc.CriticalShare
	}
	lines = append([]series{
		{name: "offered: all", xys: offered(msc), color: gray, width: vg.Points(1.5), dash: []vg.Length{vg.Points(4), vg.Points(3)}},
		{name: "offered: critical", xys: critOffered, color: gray, width: vg.Points(1)},
	}, lines...)
	return draw(dir, "shed-mix", fmt.Sprintf("Critical (%.0f%%) and sheddable traffic through shed", 100*msc.CriticalShare),
		"successful calls / C (by arrival)", lines, nil)
}
