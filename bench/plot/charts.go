package main

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// series is one line of a chart.
type series struct {
	name   string
	xs, ys []float64
}

// chart is one PNG: a line per series, optionally log-scaled axes, and
// optionally named x positions (0, 1, ...) instead of numbers.
type chart struct {
	title, x, y string
	logX, logY  bool
	nominal     []string
	xTicks      []float64 // labelled x positions of a linear axis (all if nil)
	lines       []series
}

// palette: distinguishable colours, in series order.
var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
}

// png draws c at 18 x 9 cm; nil if no series has a point.
func (c chart) png() ([]byte, error) {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = c.title, c.x, c.y
	if c.logX {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, logTicks{}
	}
	if c.logY {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, logTicks{}
	} else {
		p.Y.Min, p.Y.Tick.Marker = 0, linearTicks{}
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.Padding = vg.Millimeter
	drawn := 0
	for i, s := range c.lines {
		xys := make(plotter.XYs, 0, len(s.xs))
		for j := range s.xs {
			if s.ys[j] == s.ys[j] && (!c.logY || s.ys[j] > 0) {
				xys = append(xys, plotter.XY{X: s.xs[j], Y: s.ys[j]})
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.title, err)
		}
		col := palette[i%len(palette)]
		l.Color, pts.Color = col, col
		pts.Shape = draw.CircleGlyph{}
		p.Add(l, pts)
		p.Legend.Add(s.name, l, pts)
		drawn++
	}
	if drawn == 0 {
		return nil, nil // nothing measured: no plot
	}
	if c.xTicks != nil {
		var ts []plot.Tick
		for _, x := range c.xTicks {
			ts = append(ts, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'g', -1, 64)})
		}
		p.X.Tick.Marker = plot.ConstantTicks(ts)
	}
	if c.nominal != nil {
		p.NominalX(c.nominal...)
		p.X.Min, p.X.Max = -0.5, float64(len(c.nominal))-0.5
	}
	// The plot on the left, its legend in a column on the right.
	const w, h, legend = 18 * vg.Centimeter, 9 * vg.Centimeter, 6 * vg.Centimeter
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(96))
	dc := draw.New(img)
	leg := p.Legend
	p.Legend = plot.NewLegend()
	p.Draw(draw.Crop(dc, 0, -legend, 0, 0))
	leg.Draw(draw.Crop(dc, w-legend+vg.Millimeter, 0, 0, -5*vg.Millimeter))
	var b bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// linearTicks are plot's default ticks, labelled 25,000 rather than 25000.00.
type linearTicks struct{}

func (linearTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = comma(ts[i].Value, 0)
			if ts[i].Value != math.Trunc(ts[i].Value) {
				ts[i].Label = strconv.FormatFloat(ts[i].Value, 'g', 3, 64)
			}
		}
	}
	return ts
}

// logTicks labels 1, 2 and 5 times the powers of ten (10k, 2M, ...) and
// marks the other integer multiples.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for p := math.Pow(10, math.Floor(math.Log10(lo))); p <= hi; p *= 10 {
		for m := 1.0; m < 10; m++ {
			v := m * p
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = shortCount(v)
			}
			ts = append(ts, t)
		}
	}
	return ts
}

// column is col of every row of t that keep accepts.
func column(t *part, col string, keep func(int) bool) []float64 {
	var v []float64
	for i := range t.rows {
		if keep(i) {
			v = append(v, t.num(i, col))
		}
	}
	return v
}

func all(int) bool { return true }

// charts are the PNGs of the parts present, by file name.
func (r *results) charts() (map[string][]byte, error) {
	var cs = map[string]chart{}
	if e, n := r.engine, r.node; e != nil || n != nil {
		thr := chart{title: "Throughput by state size", x: "keys in state", y: "tx/s", logX: true}
		res := chart{title: "Disk and memory by state size", x: "keys in state", y: "MiB", logX: true, logY: true}
		if e != nil {
			one := func(i int) bool { return e.num(i, "versions") == 1 }
			keys := column(e, "keys", one)
			thr.lines = append(thr.lines, series{"engine: Finalize+Commit", keys, column(e, "tx_per_s", one)})
			res.lines = append(res.lines, series{"engine: store on disk", keys, column(e, "disk_mib", one)},
				series{"engine: Go heap", keys, column(e, "heap_mib", one)}, series{"engine: process RSS", keys, column(e, "rss_mib", one)})
			cs["state-cpu.png"] = chart{title: "Engine CPU time per tx (FinalizeBlock + Commit)", x: "keys in state", y: "µs", logX: true,
				lines: []series{{"CPU per tx, whole process", keys, column(e, "cpu_us_per_tx", one)}}}
			reads := chart{title: "Reads of random keys at random old heights", x: "state (keys, or keys x versions)", y: "µs", logY: true}
			for i := range e.rows {
				label := shortCount(e.num(i, "keys")) + " keys"
				if v := e.num(i, "versions"); v > 1 {
					label = shortCount(e.num(i, "keys")) + " x " + comma(v, 0)
				}
				reads.nominal = append(reads.nominal, label)
			}
			idx := make([]float64, len(e.rows))
			for i := range idx {
				idx[i] = float64(i)
			}
			reads.lines = []series{{"p50", idx, column(e, "read_p50_us", all)}, {"p99", idx, column(e, "read_p99_us", all)}}
			cs["state-reads.png"] = reads
		}
		if n != nil {
			keys := column(n, "keys", all)
			thr.lines = append(thr.lines, series{"node, 1 validator", keys, column(n, "committed_tps", all)})
			res.lines = append(res.lines, series{"node: RSS", keys, column(n, "rss_mib", all)},
				series{"node: data directory", keys, column(n, "data_mib", all)})
			cs["state-latency.png"] = chart{title: "Light-load commit latency, one validator", x: "keys in state", y: "ms", logX: true,
				lines: []series{{"p50", keys, column(n, "light_p50_ms", all)}, {"p95", keys, column(n, "light_p95_ms", all)}}}
		}
		cs["state-throughput.png"], cs["state-resources.png"] = thr, res
	}
	if v := r.validators; v != nil {
		r.validatorCharts(v, cs)
	}
	out := map[string][]byte{}
	for name, c := range cs {
		b, err := c.png()
		if err != nil {
			return nil, err
		}
		if b != nil {
			out[name] = b
		}
	}
	return out, nil
}

func (r *results) validatorCharts(v *part, cs map[string]chart) {
	thr := chart{title: "Committed tx/s by validator count", x: "validators", y: "tx/s"}
	lat := chart{title: "Light-load commit latency by validator count", x: "validators", y: "ms"}
	res := chart{title: "Node1 memory and disk by validator count", x: "validators", y: "MiB"}
	for _, sys := range []string{"dstt", "kvstore"} {
		is := func(i int) bool { return v.str(i, "system") == sys }
		n := column(v, "validators", is)
		if len(n) == 0 {
			continue
		}
		thr.xTicks, lat.xTicks, res.xTicks = n, n, n
		thr.lines = append(thr.lines, series{sys, n, column(v, "committed_tps", is)})
		lat.lines = append(lat.lines, series{sys + " p50", n, column(v, "light_p50_ms", is)},
			series{sys + " p95", n, column(v, "light_p95_ms", is)})
		res.lines = append(res.lines, series{sys + " RSS", n, column(v, "rss_mib", is)},
			series{sys + " data directory", n, column(v, "data_mib", is)})
	}
	cs["validators-throughput.png"], cs["validators-latency.png"], cs["validators-resources.png"] = thr, lat, res
}
