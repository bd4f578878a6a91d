package e2e

import (
	"fmt"
	"image/color"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/tenancyhq/tenancy/dashboards"
)

// drawDashboard draws each panel of d (rows skipped, $tenant set to
// tenant) from Prometheus' answers into one PNG, three panels a row in
// the dashboard's order: a line per series over [start, end] for time
// series and stats, a bar per series for bar gauges (instant queries),
// legends in Grafana's legend format. It shows what each panel would show,
// not how Grafana would draw it.
func drawDashboard(t *testing.T, promAddr string, d dashboards.Dashboard, tenant string, start, end time.Time, path string) error {
	t.Helper()
	var plots []*plot.Plot
	for _, p := range d.Panels {
		if p.IsRow() {
			continue
		}
		pl := plot.New()
		pl.Title.Text = strings.ReplaceAll(p.Title, "$tenant", tenant)
		pl.Title.TextStyle.Font.Size = vg.Points(11)
		pl.Legend.Top = true
		pl.Legend.TextStyle.Font.Size = vg.Points(7)
		if p.Type == "bargauge" {
			if err := drawBars(t, pl, promAddr, p, tenant); err != nil {
				return err
			}
		} else if err := drawLines(t, pl, promAddr, p, tenant, start, end); err != nil {
			return err
		}
		plots = append(plots, pl)
	}
	const cols = 3
	rows := (len(plots) + cols - 1) / cols
	img := vgimg.New(vg.Length(cols)*5*vg.Inch, vg.Length(rows)*3*vg.Inch)
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Inch / 4, PadY: vg.Inch / 4, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8}
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
	}
	for i, pl := range plots {
		grid[i/cols][i%cols] = pl
	}
	canvases := plot.Align(grid, tiles, dc)
	for i, pl := range plots {
		pl.Draw(canvases[i/cols][i%cols])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

var legendVar = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)

// legend is Grafana's legend format applied to a series' labels.
func legend(format string, labels map[string]string) string {
	if format == "" {
		return fmt.Sprint(labels)
	}
	return legendVar.ReplaceAllStringFunc(format, func(m string) string {
		return labels[legendVar.FindStringSubmatch(m)[1]]
	})
}

func drawLines(t *testing.T, pl *plot.Plot, promAddr string, p dashboards.Panel, tenant string, start, end time.Time) error {
	pl.X.Label.Text = "seconds into the test"
	n := 0
	for _, tg := range p.Targets {
		r := promRange(t, promAddr, dashboards.Expand(tg.Expr, tenant), start, end)
		for _, s := range r.Data.Result {
			xys := make(plotter.XYs, 0, len(s.Values))
			for _, v := range s.Values {
				ts, _ := v[0].(float64)
				y, err := strconv.ParseFloat(fmt.Sprint(v[1]), 64)
				if err != nil {
					return err
				}
				xys = append(xys, plotter.XY{X: ts - float64(start.Unix()), Y: y})
			}
			line, err := plotter.NewLine(xys)
			if err != nil {
				return err
			}
			line.Color = plotutil.Color(n)
			line.Width = vg.Points(1.5)
			pl.Add(line)
			pl.Legend.Add(legend(tg.LegendFormat, s.Metric), line)
			n++
		}
	}
	if n == 0 {
		pl.Title.Text += " (no data)"
	}
	return nil
}

func drawBars(t *testing.T, pl *plot.Plot, promAddr string, p dashboards.Panel, tenant string) error {
	type bar struct {
		name  string
		value float64
	}
	var bars []bar
	for _, tg := range p.Targets {
		for _, s := range promQuery(t, promAddr, dashboards.Expand(tg.Expr, tenant)).Data.Result {
			v, err := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
			if err != nil {
				return err
			}
			bars = append(bars, bar{legend(tg.LegendFormat, s.Metric), v})
		}
	}
	if len(bars) == 0 {
		pl.Title.Text += " (no data)"
		return nil
	}
	// Largest on top, as Grafana sorts a top-k.
	sort.Slice(bars, func(i, j int) bool { return bars[i].value < bars[j].value })
	values := make(plotter.Values, len(bars))
	names := make([]string, len(bars))
	for i, b := range bars {
		values[i], names[i] = b.value, b.name
	}
	chart, err := plotter.NewBarChart(values, vg.Points(14))
	if err != nil {
		return err
	}
	chart.Horizontal = true
	chart.Color = plotutil.Color(0)
	pl.Add(chart)
	pl.NominalY(names...)
	return nil
}
