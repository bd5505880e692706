// Clarion console: the little behaviour the pages need beyond htmx. No inline scripts anywhere (the CSP
// forbids them): pages mark elements with data- attributes and this file wires them up, also after htmx swaps.
(function () {
  "use strict";
  var root = document.documentElement;
  var stored = localStorage.getItem("clarion-theme");
  if (stored) root.setAttribute("data-theme", stored);

  function toggleTheme() {
    var dark = root.getAttribute("data-theme") === "dark" ||
      (!root.getAttribute("data-theme") && matchMedia("(prefers-color-scheme: dark)").matches);
    var next = dark ? "light" : "dark";
    root.setAttribute("data-theme", next);
    localStorage.setItem("clarion-theme", next);
    redrawCharts();
  }

  function copy(button) {
    var target = document.querySelector(button.getAttribute("data-copy"));
    if (!target) return;
    var text = target.innerText;
    var done = function () { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {  // http:// on a LAN address: no Clipboard API, select the text instead
      var range = document.createRange(); range.selectNodeContents(target);
      var selection = getSelection(); selection.removeAllRanges(); selection.addRange(range);
      document.execCommand("copy"); done();
    }
  }

  // Charts: <div data-chart="line|bars" id=…> + <script type="application/json" data-for=id>{x, series}</script>.
  var charts = [];
  var palette = ["#2f5bd3", "#d9480f", "#2b8a3e", "#ae3ec9", "#e67700", "#1098ad"];

  function css(name) { return getComputedStyle(root).getPropertyValue(name).trim(); }

  function drawChart(element) {
    if (typeof uPlot === "undefined") return;
    var source = document.querySelector('script[data-for="' + element.id + '"]');
    if (!source) return;
    var data = JSON.parse(source.textContent);
    var kind = element.getAttribute("data-chart");
    var labels = null, xs = data.x || [];
    if (xs.length && typeof xs[0] === "string") { labels = xs; xs = xs.map(function (_, i) { return i; }); }
    var axis = { stroke: css("--muted"), grid: { stroke: css("--line") }, ticks: { stroke: css("--line") } };
    var options = {
      width: Math.max(element.clientWidth, 280),
      height: parseInt(element.getAttribute("data-height") || "220", 10),
      // Bars grow from zero (uPlot's auto range would start a single run's bar at its own height).
      scales: { x: { time: !labels && kind !== "bars" },
                y: kind === "bars" ? { range: function (_, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } : {} },
      axes: [Object.assign({}, axis, labels ? { values: function (_, ticks) { return ticks.map(function (t) { return labels[t] || ""; }); } } : {}), axis],
      series: [{}].concat((data.series || []).map(function (serie, i) {
        var color = serie.color || palette[i % palette.length];
        var line = { label: serie.label, stroke: color, width: 2 };
        if (kind === "bars") {
          line.fill = color + "99";
          line.paths = uPlot.paths.bars({ size: [0.6, 60] });
          line.points = { show: false };
        }
        return line;
      }))
    };
    var values = [xs].concat((data.series || []).map(function (serie) { return serie.values; }));
    element.innerHTML = "";
    var plot = new uPlot(options, values, element);
    charts.push({ element: element, plot: plot });
  }

  function redrawCharts() {
    Object.keys(lanes).forEach(function (uid) { lanes[uid].forEach(drawLive); });
    var elements = charts.map(function (chart) { chart.plot.destroy(); return chart.element; });
    charts = [];
    elements.forEach(drawChart);
  }

  // Live views: the panel re-renders every second (htmx); each [data-lane] in it is one sample that
  // console.js appends to the lane's two sparklines (rate vs max; queue depth and oldest age), kept
  // outside the panel so they survive the swaps.
  var lanes = {};
  var LIVE_POINTS = 120;

  function liveChart(holder, title, series, scales) {
    var box = document.createElement("figure");
    box.className = "chart";
    holder.appendChild(box);
    var chart = { box: box, title: title, series: series, scales: scales, plot: null,
                  data: [[]].concat(series.map(function () { return []; })) };
    drawLive(chart);
    return chart;
  }

  function drawLive(chart) {  // again on a theme change or a resize: the colours and the width change
    if (chart.plot) chart.plot.destroy();
    var scales = chart.scales;
    var axis = { stroke: css("--muted"), grid: { stroke: css("--line") }, ticks: { stroke: css("--line") } };
    var axes = [axis, Object.assign({}, axis, { scale: scales[0] })];
    if (scales[1] !== scales[0]) axes.push(Object.assign({}, axis, { scale: scales[1], side: 1, grid: { show: false } }));
    var options = {
      title: chart.title, width: Math.max(chart.box.clientWidth - 20, 260), height: 160, axes: axes,
      series: [{}].concat(chart.series.map(function (serie, i) {
        return { label: serie, stroke: palette[i], width: 2, scale: scales[i] };
      }))
    };
    chart.box.innerHTML = "";
    chart.plot = new uPlot(options, chart.data, chart.box);
  }

  function sample(element) {
    var holder = document.querySelector("[data-live-charts]");
    if (!holder || typeof uPlot === "undefined") return;
    var uid = element.getAttribute("data-lane");
    var number = function (name) { return parseFloat(element.getAttribute("data-" + name)) || 0; };
    var lane = lanes[uid];
    if (!lane) {
      lane = lanes[uid] = [
        liveChart(holder, "Rate vs maximum, calls/s", ["Rate", "Maximum"], ["calls/s", "calls/s"]),
        liveChart(holder, "Queue", ["Queued calls", "Oldest queued, s"], ["calls", "s"])
      ];
    }
    var now = Date.now() / 1000;
    [[number("rate"), number("max")], [number("queued"), number("oldest")]].forEach(function (values, i) {
      var chart = lane[i];
      chart.data[0].push(now);
      values.forEach(function (value, j) { chart.data[j + 1].push(value); });
      chart.data.forEach(function (column) { if (column.length > LIVE_POINTS) column.shift(); });
      chart.plot.setData(chart.data);
    });
  }

  function wire(scope) {
    scope.querySelectorAll("[data-lane]").forEach(sample);
    scope.querySelectorAll("[data-chart]").forEach(drawChart);
    scope.querySelectorAll("[data-autosubmit]").forEach(function (element) {
      element.addEventListener("change", function () { element.form.submit(); });
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-copy], [data-theme-toggle], [data-back]");
    if (!target) return;
    if (target.hasAttribute("data-copy")) copy(target);
    if (target.hasAttribute("data-theme-toggle")) toggleTheme();
    if (target.hasAttribute("data-back")) { event.preventDefault(); history.back(); }
  });
  // A "confirm" on destructive buttons without inline script: <button data-confirm="Delete this pool?">.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var message = (button && button.getAttribute("data-confirm")) || event.target.getAttribute("data-confirm");
    if (message && !confirm(message)) event.preventDefault();
  }, true);
  document.addEventListener("DOMContentLoaded", function () {
    wire(document);
    if (window.htmx) {
      htmx.onLoad(function (element) { if (element !== document.body) wire(element); });
    }
  });
  window.addEventListener("resize", function () { clearTimeout(window.__clarionResize); window.__clarionResize = setTimeout(redrawCharts, 200); });
  window.clarionCharts = { redraw: redrawCharts };
})();
