package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// datasource is the dashboard's own data source variable, so one JSON
// serves any Grafana whatever its Prometheus is named.
func datasource() common.DataSourceRef {
	return dashboard.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}
}

// query is one PromQL target; legend is Grafana's legend format.
type query struct {
	expr, legend string
}

// layout numbers panels in the order they are added, the way Grafana
// numbers them when a dashboard is saved, so the JSON stays stable.
type layout struct {
	b  *dashboard.DashboardBuilder
	id uint32
}

func (l *layout) next() uint32 { l.id++; return l.id }

func (l *layout) row(title string) {
	l.b.WithRow(dashboard.NewRowBuilder(title).Id(l.next()))
}

// timeseries adds a line panel of width span (of 24) and height 8.
func (l *layout) timeseries(span uint32, title, description, unit string, qs ...query) {
	l.b.WithPanel(l.newTimeseries(span, title, description, unit, qs...))
}

// newTimeseries is timeseries' panel, for a caller that sets more of it.
func (l *layout) newTimeseries(span uint32, title, description, unit string, qs ...query) *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().
		Id(l.next()).
		Title(title).
		Description(description).
		Datasource(datasource()).
		Height(8).Span(span).
		Unit(unit).
		DrawStyle(common.GraphDrawStyleLine).
		LineWidth(1).
		FillOpacity(10).
		Legend(common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom).ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending))
	for _, t := range targets(qs) {
		p.WithTarget(t)
	}
	return p
}

// stat adds a single-number panel of width span and height 4.
func (l *layout) stat(span uint32, title, description, unit string, qs ...query) {
	p := stat.NewPanelBuilder().
		Id(l.next()).
		Title(title).
		Description(description).
		Datasource(datasource()).
		Height(4).Span(span).
		Unit(unit).
		GraphMode(common.BigValueGraphModeArea).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}))
	for _, t := range targets(qs) {
		p.WithTarget(t)
	}
	l.b.WithPanel(p)
}

// bars adds a horizontal bar gauge of width span and height 8 whose
// queries are instant: a ranking at the end of the dashboard's window.
func (l *layout) bars(span uint32, title, description, unit string, qs ...query) {
	p := bargauge.NewPanelBuilder().
		Id(l.next()).
		Title(title).
		Description(description).
		Datasource(datasource()).
		Height(8).Span(span).
		Unit(unit).
		Orientation(common.VizOrientationHorizontal).
		DisplayMode(common.BarGaugeDisplayModeGradient).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}))
	for _, t := range targets(qs) {
		p.WithTarget(t.Instant())
	}
	l.b.WithPanel(p)
}

func targets(qs []query) []*prometheus.DataqueryBuilder {
	out := make([]*prometheus.DataqueryBuilder, len(qs))
	for i, q := range qs {
		out[i] = prometheus.NewDataqueryBuilder().
			RefId(string(rune('A' + i))).
			Datasource(datasource()).
			Expr(q.expr).
			LegendFormat(q.legend)
	}
	return out
}

// newDashboard starts a dashboard with the settings both share: the data
// source variable, a one-hour window and a 30 s refresh.
func newDashboard(uid, title, description string) *layout {
	b := dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags([]string{"tenancy", "opentelemetry-collector"}).
		Editable().
		Refresh("30s").
		Time("now-1h", "now").
		Timezone("").
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus"))
	return &layout{b: b}
}

// variable is a query variable listing the values of label in metric.
func variable(name, label, metric string) *dashboard.QueryVariableBuilder {
	def := "label_values(" + metric + ", " + name + ")"
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(datasource()).
		Definition(def).
		Query(dashboard.StringOrMap{Map: map[string]any{"query": def, "refId": name}}).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(false).
		IncludeAll(false)
}
