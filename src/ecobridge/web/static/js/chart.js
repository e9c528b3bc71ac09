// Station page chart: a downsampled series from /api/v1/datastreams/{id}/series drawn with
// ECharts, with the national limit and the WHO guideline as horizontal lines. The overview
// covers the chosen time range; zooming fetches a finer series for the window shown and splices
// it into the overview, so the slider keeps the whole range. The container's data-ready turns
// "true" once ECharts has rendered the data ('finished' after setOption), for tests and the
// benchmark; data-fetches counts the series requests.
(() => {
  "use strict";
  const holder = document.getElementById("station-config");
  const el = document.getElementById("station-chart");
  if (!holder || !el || typeof echarts === "undefined") return;
  const config = JSON.parse(holder.textContent);
  const T = config.text;
  const lang = config.lang || "en";
  const select = document.getElementById("chart-variable");
  const status = document.getElementById("chart-status");
  const download = document.getElementById("chart-download");
  const summary = document.getElementById("chart-summary");
  const DAY = 86400000;
  const COLOURS = { values: "#1f6f54", mean: "#7a8c86", national: "#b3261e", who: "#1456b8" };

  const chart = echarts.init(el, null, { renderer: "canvas", locale: lang === "zh" ? "ZH" : "EN" });
  const state = { stream: null, range: "all", overview: null, span: null, seq: 0, timer: null, pending: null, daily: false,
    drawn: { values: [], means: [] } };
  let fetches = 0;

  const numberFormat = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
  const fmt = (v) => (v === null || v === undefined || Number.isNaN(v) ? "–" : numberFormat.format(v));
  // Date formats are made when first used: each costs milliseconds before the first draw.
  const dateFormat = (options) => new Intl.DateTimeFormat(lang, { timeZone: "UTC", ...options });
  const FORMAT_OPTIONS = {
    long: { year: "numeric", month: "short" },
    days: { month: "short", day: "numeric" },
    hours: { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" },
    full: { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" },
  };
  const formats = {};
  for (const [name, options] of Object.entries(FORMAT_OPTIONS)) {
    let made = null;
    Object.defineProperty(formats, name, { get: () => made || (made = dateFormat(options)) });
  }
  const esc = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const fill = (text, values) => text.replace(/%\((\w+)\)s/g, (_, k) => values[k] ?? "");

  function duration(seconds) {
    const [unit, size] = seconds >= 86400 ? ["day", 86400] : seconds >= 3600 ? ["hour", 3600]
      : seconds >= 60 ? ["minute", 60] : ["second", 1];
    return new Intl.NumberFormat(lang, { style: "unit", unit, unitDisplay: "long", maximumFractionDigits: 1 })
      .format(seconds / size);
  }

  // -- data ----------------------------------------------------------------------------------
  // The overview asks for a fixed number of buckets, so the page can preload the first one
  // (<link rel="preload"> in station.html) while ECharts loads; a zoomed window asks for
  // about one bucket per pixel.
  async function fetchSeries(stream, start, end, points, interval) {
    const url = new URL(stream.series, window.location.origin);
    if (interval) url.searchParams.set("interval", String(interval));
    url.searchParams.set("points", String(points || Math.max(60, Math.min(2000, Math.round(el.clientWidth || 800)))));
    if (start !== null) url.searchParams.set("start", new Date(start).toISOString());
    if (end !== null) url.searchParams.set("end", new Date(end).toISOString());
    fetches += 1;
    el.dataset.fetches = String(fetches);
    if (state.pending) state.pending.abort();  // a newer view replaces the one still loading
    state.pending = new AbortController();
    const response = await fetch(url, { signal: state.pending.signal });
    if (!response.ok) throw new Error(`series: HTTP ${response.status}`);
    return response.json();
  }

  // Each bucket gives its first, lowest, highest and last value at their own times (M4):
  // drawn in time order they trace the same envelope as every raw value. A gap much longer
  // than the usual step breaks the line, so an outage is not drawn as a straight line.
  function toPoints(body) {
    const values = [], means = [];
    const width = (body.bucket_seconds || 0) * 1000;
    for (const b of body.items) {
      const pts = [[b.time_first, b.first], [b.time_min, b.min], [b.time_max, b.max], [b.time_last, b.last]]
        .map(([t, v]) => [Date.parse(t), v]).sort((p, q) => p[0] - q[0]);
      for (const p of pts) {
        if (!values.length || values[values.length - 1][0] !== p[0]) values.push(p);
      }
      means.push([Date.parse(b.time) + width / 2, b.mean]);
    }
    const steps = values.slice(1).map((p, i) => p[0] - values[i][0]).sort((a, b) => a - b);
    const usual = steps.length ? steps[Math.floor(steps.length / 2)] : 0;
    const limit = Math.max(usual * 4, width * 2.5);
    const breakGaps = (points) => {
      const out = [];
      for (const p of points) {
        const prev = out[out.length - 1];
        if (prev && limit > 0 && p[0] - prev[0] > limit) out.push([prev[0] + 1, "-"]);
        out.push(p);
      }
      return out;
    };
    // Means only add something where a bucket holds more than one value.
    const summarised = body.items.some((b) => b.count > 1);
    return { values: breakGaps(values), means: summarised ? breakGaps(means) : [], body };
  }

  // Daily mode: the mean of each UTC day with enough hourly values, drawn at midday.
  function toDaily(body) {
    const need = config.daily_min_hours || 18;
    const days = body.items.filter((b) => b.count >= need).map((b) => [Date.parse(b.time) + DAY / 2, b.mean]);
    const out = [];
    for (const p of days) {
      const prev = out[out.length - 1];
      if (prev && p[0] - prev[0] > 1.5 * DAY) out.push([prev[0] + 1, "-"]);
      out.push(p);
    }
    return { values: out, means: [], body };
  }

  // A round number at or above `v`, so the axis ends on a readable tick.
  function niceCeil(v) {
    if (!(v > 0)) return v;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v - 1e-9) return m * p;
    return 10 * p;
  }

  function rangeBounds(stream) {
    if (state.range === "all" || !stream.last) return [null, null];
    const end = Date.parse(stream.last) + 1;
    return [end - Number(state.range) * DAY, end];
  }

  // -- drawing -------------------------------------------------------------------------------
  // Hourly values are set against the limits of the shortest period; daily means against the
  // 24-hour limits.
  const shownLimits = (stream) => (state.daily && stream.daily_limits && stream.daily_limits.length
    ? stream.daily_limits : stream.limits || []);

  function markLines(stream) {
    return shownLimits(stream).map((l) => ({
      yAxis: l.value,
      name: l.label,
      lineStyle: { color: COLOURS[l.kind] || COLOURS.national, type: l.kind === "who" ? "dashed" : "solid", width: 1.5 },
      label: {
        formatter: `${l.document} · ${l.period}: ${fmt(l.value)} ${l.unit}`,
        position: "insideEndTop", color: COLOURS[l.kind] || COLOURS.national, fontSize: 11,
        backgroundColor: "rgba(255,255,255,0.85)", padding: [1, 3],
      },
    }));
  }

  function axisLabel(value) {
    const span = state.span || 0;
    const d = new Date(value);
    if (span > 300 * DAY) return formats.long.format(d);
    if (span > 4 * DAY) return formats.days.format(d);
    return formats.hours.format(d);
  }

  const valuesName = () => (state.daily ? T.daily : T.values);

  function baseOption(stream) {
    const top = Math.max(0, ...shownLimits(stream).map((l) => l.value));
    return {
      animation: false,
      grid: { left: 56, right: 24, top: 36, bottom: 78 },
      legend: { top: 0, data: [valuesName(), T.mean] },
      tooltip: {
        trigger: "axis",
        axisPointer: { type: "line" },
        // ECharts lists only the series with a point at the snapped time; the two series have
        // their points at different times, so both are looked up here by the nearest time.
        formatter: (items) => {
          const list = Array.isArray(items) ? items : [items];
          if (!list.length || !list[0].value) return "";
          const t = list[0].value[0];
          const rows = [[valuesName(), COLOURS.values, state.drawn.values], [T.mean, COLOURS.mean, state.drawn.means]]
            .map(([name, colour, points]) => [name, colour, nearest(points, t)])
            .filter(([, , p]) => p && p[1] !== "-")
            .map(([name, colour, p]) => `<span class="chart-dot" style="background:${colour}"></span>`
              + `${esc(name)}: <b>${esc(fmt(p[1]))} ${esc(stream.unit)}</b>`);
          return [esc(formats.full.format(new Date(t)))].concat(rows).join("<br>");
        },
      },
      xAxis: { type: "time", axisLabel: { formatter: axisLabel, hideOverlap: true } },
      yAxis: {
        type: "value", name: stream.unit, nameTextStyle: { align: "left" }, scale: false,
        axisLabel: { formatter: (v) => numberFormat.format(v) },
        max: (extent) => niceCeil(Math.max(extent.max, top * 1.05)),
      },
      dataZoom: [
        { type: "inside", xAxisIndex: 0, filterMode: "none", minValueSpan: 6 * 3600 * 1000 },
        { type: "slider", xAxisIndex: 0, filterMode: "none", height: 28, bottom: 12, showDetail: false },
      ],
      series: [
        { name: valuesName(), type: "line", showSymbol: false, sampling: undefined, connectNulls: false,
          lineStyle: { width: 1.2, color: COLOURS.values }, itemStyle: { color: COLOURS.values },
          data: [], markLine: { symbol: "none", silent: true, data: markLines(stream) } },
        { name: T.mean, type: "line", showSymbol: false, connectNulls: false,
          lineStyle: { width: 1, color: COLOURS.mean, type: "dotted" }, itemStyle: { color: COLOURS.mean },
          data: [] },
      ],
    };
  }

  function whenRendered() {
    chart.off("finished");
    chart.on("finished", () => {
      chart.off("finished");
      el.dataset.ready = "true";
    });
  }

  // The point of `points` (sorted by time) nearest to `t`, or null.
  function nearest(points, t) {
    if (!points || !points.length) return null;
    let lo = 0, hi = points.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (points[mid][0] < t) lo = mid + 1; else hi = mid;
    }
    const before = points[Math.max(0, lo - 1)];
    return Math.abs(before[0] - t) < Math.abs(points[lo][0] - t) ? before : points[lo];
  }

  function draw(values, means) {
    state.drawn = { values, means };
    whenRendered();
    chart.setOption({ legend: { data: means.length ? [valuesName(), T.mean] : [valuesName()] },
      series: [{ data: values }, { data: means }] });
  }

  function describe(view, start, end) {
    const items = view.body.items.filter((b) => {
      const t = Date.parse(b.time_last);
      return (start === null || t >= start) && (end === null || Date.parse(b.time_first) <= end);
    });
    const count = items.reduce((n, b) => n + b.count, 0);
    const put = (key, text) => { summary.querySelector(`[data-summary="${key}"]`).textContent = text; };
    const unit = ` ${state.stream.unit}`;
    put("min", items.length ? fmt(Math.min(...items.map((b) => b.min))) + unit : "–");
    put("max", items.length ? fmt(Math.max(...items.map((b) => b.max))) + unit : "–");
    put("mean", count ? fmt(items.reduce((s, b) => s + b.mean * b.count, 0) / count) + unit : "–");
    put("count", numberFormat.format(count));
    const raw = view.body.items.every((b) => b.count <= 1);
    status.textContent = !view.body.items.length ? T.empty
      : state.daily ? fill(T.daily_status, { hours: config.daily_min_hours || 18 })
        : raw ? T.resolution_raw : fill(T.resolution, { width: duration(view.body.bucket_seconds) });
    const url = new URL(state.stream.csv, window.location.origin);
    const lo = start ?? (view.body.start ? Date.parse(view.body.start) : null);
    const hi = end ?? (view.body.end ? Date.parse(view.body.end) : null);
    if (lo !== null) url.searchParams.set("start", new Date(lo).toISOString());
    if (hi !== null) url.searchParams.set("end", new Date(hi).toISOString());
    download.href = url.pathname + url.search;
  }

  async function loadOverview() {
    const stream = state.stream;
    const seq = ++state.seq;
    el.dataset.ready = "false";
    el.dataset.stream = String(stream.id);
    status.textContent = T.loading;
    const [start, end] = rangeBounds(stream);
    try {
      const view = state.daily ? toDaily(await fetchSeries(stream, start, end, 5000, 86400))
        : toPoints(await fetchSeries(stream, start, end, config.overview_points));
      if (seq !== state.seq) return;
      state.overview = view;
      const times = view.values.map((p) => p[0]);
      state.span = times.length ? times[times.length - 1] - times[0] : 0;
      el.setAttribute("aria-label", fill(T.chart, { variable: `${stream.name} (${stream.unit})`, station: config.station || "" }));
      // One setOption with the data in it: ECharts lays out and renders the chart once.
      const option = baseOption(stream);
      option.legend.data = view.means.length ? [valuesName(), T.mean] : [valuesName()];
      option.series[0].data = view.values;
      option.series[1].data = view.means;
      state.drawn = { values: view.values, means: view.means };
      whenRendered();
      chart.setOption(option, true);
      describe(view, null, null);
      delete el.dataset.window;
    } catch (err) {
      if (seq === state.seq && err.name !== "AbortError") { status.textContent = T.failed; el.dataset.ready = "error"; }
    }
  }

  // The window shown, in milliseconds, from the slider's state.
  function zoomWindow() {
    const zoom = chart.getOption().dataZoom[0];
    const times = state.overview.values.map((p) => p[0]);
    if (!times.length) return null;
    const first = times[0], last = times[times.length - 1];
    const start = zoom.startValue ?? first + (last - first) * (zoom.start / 100);
    const end = zoom.endValue ?? first + (last - first) * (zoom.end / 100);
    return [Math.max(first, start), Math.min(last, end), first, last];
  }

  async function loadDetail() {
    const stream = state.stream;
    const win = zoomWindow();
    if (!win || !state.overview) return;
    const [start, end, first, last] = win;
    state.span = end - start;
    if (state.daily) { describe(state.overview, start, end); return; }  // days are already the finest
    if (end - start >= 0.9 * (last - first)) {
      draw(state.overview.values, state.overview.means);
      describe(state.overview, null, null);
      delete el.dataset.window;
      return;
    }
    const seq = ++state.seq;
    el.dataset.ready = "false";
    status.textContent = T.loading;
    try {
      const detail = toPoints(await fetchSeries(stream, Math.floor(start), Math.ceil(end) + 1));
      if (seq !== state.seq) return;
      const outside = (points) => points.filter((p) => p[0] < start || p[0] > end);
      const merge = (a, b) => outside(a).concat(b).sort((p, q) => p[0] - q[0]);
      el.dataset.window = `${new Date(start).toISOString()}/${new Date(end).toISOString()}`;
      draw(merge(state.overview.values, detail.values), merge(state.overview.means, detail.means));
      describe(detail, start, end);
    } catch (err) {
      if (seq === state.seq && err.name !== "AbortError") { status.textContent = T.failed; el.dataset.ready = "error"; }
    }
  }

  function selectStream(id) {
    state.stream = config.streams.find((s) => String(s.id) === String(id)) || config.streams[0];
    showLimitLists();
    loadOverview();
  }

  // The list under the chart names the lines drawn: this variable's, for hourly values or days.
  function showLimitLists() {
    document.querySelectorAll("[data-limits-for]").forEach((node) => {
      node.hidden = node.dataset.limitsFor !== String(state.stream.id);
      const daily = node.querySelector('[data-mode="daily"]');
      const hourly = node.querySelector('[data-mode="hourly"]');
      if (daily && hourly) { daily.hidden = !state.daily; hourly.hidden = state.daily; }
    });
  }

  chart.on("datazoom", () => {
    clearTimeout(state.timer);
    state.timer = setTimeout(loadDetail, 250);
  });
  // Buttons zoom around the middle of the window, for keyboards and screen readers.
  document.querySelectorAll("[data-zoom]").forEach((button) => {
    button.addEventListener("click", () => {
      const zoom = chart.getOption().dataZoom[0];
      const mid = (zoom.start + zoom.end) / 2;
      const half = Math.min(50, Math.max(0.05, ((zoom.end - zoom.start) / 2) * (button.dataset.zoom === "in" ? 0.5 : 2)));
      const start = Math.max(0, Math.min(100 - 2 * half, mid - half));
      chart.dispatchAction({ type: "dataZoom", start, end: Math.min(100, start + 2 * half) });
    });
  });
  select.addEventListener("change", () => selectStream(select.value));
  const daily = document.getElementById("chart-daily");
  if (daily) {
    state.daily = daily.checked;
    daily.addEventListener("change", () => { state.daily = daily.checked; showLimitLists(); loadOverview(); });
  }
  document.querySelectorAll('input[name="range"]').forEach((input) => {
    input.addEventListener("change", () => {
      if (!input.checked) return;
      state.range = input.value;
      loadOverview();
    });
  });
  window.addEventListener("resize", () => chart.resize());
  const checked = document.querySelector('input[name="range"]:checked');
  if (checked) state.range = checked.value;
  selectStream(select.value);
})();
