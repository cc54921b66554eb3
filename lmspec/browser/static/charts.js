// Draws every chart of a page with uPlot (vendored beside this file): each
// <script type="application/json" class="chart-data" data-target="ID"> holds {"x": [...], "series": [{"label", "values"}]}.
(function () {
  "use strict";
  var COLORS = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4", "#57606a"];
  var COMPACT = new Intl.NumberFormat(undefined, { notation: "compact", maximumSignificantDigits: 3 });

  function points(values) {
    // dots only where a line alone would not show: short series, or a single evaluation point
    return values.filter(function (v) { return v !== null; }).length < 40;
  }

  function compact(u, splits) {
    return splits.map(function (v) { return v === null ? "" : Math.abs(v) >= 1000 ? COMPACT.format(v) : +v.toPrecision(3); });
  }

  function draw(block) {
    var target = document.getElementById(block.dataset.target);
    var data = JSON.parse(block.textContent);
    if (!target || !data.x) {
      return;
    }
    var series = [{ label: "step" }].concat(data.series.map(function (s, i) {
      return { label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true, points: { show: points(s.values) } };
    }));
    var options = {
      width: Math.max(320, target.clientWidth || 640),
      height: 260,
      scales: { x: { time: false } },
      series: series,
      axes: [{ label: "step" }, { size: 56, values: compact }],
      cursor: { drag: { x: true, y: false } }
    };
    new uPlot(options, [data.x].concat(data.series.map(function (s) { return s.values; })), target);
  }

  document.querySelectorAll("script.chart-data").forEach(draw);
})();
