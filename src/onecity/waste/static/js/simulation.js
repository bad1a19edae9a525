/* The newest collection simulation (`onecity waste simulate`, or the demo's small run): per
   policy truck km, stops, kg, overflow hours and fires handled late, the parameters it was run
   with, and its charts, drawn here as SVG in the page's language (the server's matplotlib
   files are for the command line). Data: GET /api/v1/waste/simulations/latest (null before
   the first run). */
(function () {
  "use strict";
  const { t, el, api, show } = OC;
  const NS = "http://www.w3.org/2000/svg";
  const COLOURS = { fixed: "#6b6b6b", threshold: "#1f6fb4", forecast: "#23883a", clairvoyant: "#8455b0" };
  const YARDSTICKS = new Set(["clairvoyant"]);
  const num = (v, digits) => v.toLocaleString(OC.cfg.lang, { maximumFractionDigits: digits || 0 });
  const $ = (id) => document.getElementById(id);

  function policyName(p) {
    const key = "waste.sim.policy_" + p;
    const s = t(key);
    return s === key ? p : s;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text != null) e.textContent = text;
    return e;
  }

  /* A round top for an axis from 0 to at least `hi`, and its ticks. */
  function axis(hi) {
    const raw = (hi || 1) / 4;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
    const ticks = [0];
    while (ticks[ticks.length - 1] < hi - step * 1e-9 || ticks.length < 2) ticks.push(+(ticks.length * step).toPrecision(12));
    return ticks;
  }

  function legend(results) {
    return el("ul", { class: "sim-legend" }, results.map((r) => {
      const key = svg("svg", { viewBox: "0 0 20 10", width: 20, height: 10, "aria-hidden": "true" });
      key.append(svg("line", { x1: 0, y1: 5, x2: 20, y2: 5, stroke: COLOURS[r.policy] || "#444", "stroke-width": 3,
        "stroke-dasharray": YARDSTICKS.has(r.policy) ? "4 3" : "none" }));
      return el("li", {}, key, " ", policyName(r.policy));
    }));
  }

  /* One line per policy over the simulated days. */
  function daily(results, attr, unitLabel, caption) {
    const W = 560, H = 260, P = { l: 52, r: 12, t: 12, b: 40 };
    const days = Math.max(...results.map((r) => r[attr].length));
    const ticks = axis(Math.max(0, ...results.flatMap((r) => r[attr])));
    const top = ticks[ticks.length - 1];
    const x = (d) => P.l + (days <= 1 ? 0.5 : d / (days - 1)) * (W - P.l - P.r);
    const y = (v) => H - P.b - (v / top) * (H - P.t - P.b);
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": caption, class: "sim-svg" });
    chart.append(svg("title", {}, caption));
    for (const v of ticks) {
      chart.append(svg("line", { x1: P.l, x2: W - P.r, y1: y(v), y2: y(v), class: "sim-grid" }));
      chart.append(svg("text", { x: P.l - 6, y: y(v) + 4, "text-anchor": "end", class: "sim-tick" }, num(v, 1)));
    }
    for (let d = 0; d < days; d++) {
      chart.append(svg("text", { x: x(d), y: H - P.b + 16, "text-anchor": "middle", class: "sim-tick" }, num(d + 1)));
    }
    chart.append(svg("text", { x: (P.l + W - P.r) / 2, y: H - 6, "text-anchor": "middle", class: "sim-axis" }, t("waste.sim.axis_day")));
    chart.append(svg("text", { x: 12, y: P.t + (H - P.t - P.b) / 2, "text-anchor": "middle", class: "sim-axis",
      transform: `rotate(-90 12 ${P.t + (H - P.t - P.b) / 2})` }, unitLabel));
    for (const r of results) {
      const colour = COLOURS[r.policy] || "#444";
      const pts = r[attr].map((v, d) => `${x(d).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      chart.append(svg("polyline", { points: pts, fill: "none", stroke: colour, "stroke-width": 2,
        "stroke-dasharray": YARDSTICKS.has(r.policy) ? "6 4" : "none" }));
      r[attr].forEach((v, d) => chart.append(svg("circle", { cx: x(d), cy: y(v), r: 3, fill: colour })));
    }
    return el("figure", { class: "sim-chart" }, chart, legend(results), el("figcaption", { text: caption }));
  }

  /* The totals per policy as bars, one small chart per figure. */
  function totals(results) {
    const metrics = [
      ["truck_km", t("waste.sim.km"), 1],
      ["stops", t("waste.sim.stops"), 1],
      ["collected_kg", t("waste.sim.kg"), 1],
      ["overflow_hours", t("waste.sim.overflow"), 1],
      ["fires_late", t("waste.sim.late"), 1],
    ];
    const W = 200, H = 170, P = { l: 8, r: 8, t: 18, b: 8 };
    const figures = metrics.map(([attr, label]) => {
      const values = results.map((r) => r[attr]);
      const top = Math.max(...values, 1) * 1.15;
      const bw = (W - P.l - P.r) / values.length;
      const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, class: "sim-svg" });
      chart.append(svg("title", {}, label));
      results.forEach((r, i) => {
        const h = (r[attr] / top) * (H - P.t - P.b);
        const bx = P.l + i * bw + bw * 0.15;
        chart.append(svg("rect", { x: bx, y: H - P.b - h, width: bw * 0.7, height: h, fill: COLOURS[r.policy] || "#444",
          "fill-opacity": YARDSTICKS.has(r.policy) ? 0.55 : 1 }));
        chart.append(svg("text", { x: bx + bw * 0.35, y: H - P.b - h - 4, "text-anchor": "middle", class: "sim-tick" },
          num(r[attr], r[attr] >= 10 ? 0 : 1)));
      });
      return el("figure", { class: "sim-total" }, chart, el("figcaption", { text: label }));
    });
    const caption = t("waste.sim.chart_totals");
    return el("figure", { class: "sim-chart sim-chart-totals" },
      el("div", { class: "sim-totals" }, figures), legend(results), el("figcaption", { text: caption }));
  }

  /* "drove 2 % fewer km" or "drove 2 % more km": the sign is said in words. */
  const FORECAST = { fewer: "waste.sim.forecast_fewer", more: "waste.sim.forecast_more", same: "waste.sim.forecast_same" };
  const BOUND = { fewer: "waste.sim.bound_fewer", more: "waste.sim.bound_more", same: "waste.sim.bound_same" };
  function comparison(keys, pct) {
    const share = OC.percent(Math.abs(pct) / 100, 1);
    if (Math.abs(pct) < 0.05) return t(keys.same);
    return t(pct > 0 ? keys.fewer : keys.more, { pct: share });
  }

  function render(got) {
    const r = got.report;
    $("sim-empty").hidden = true;
    $("sim-result").hidden = false;
    $("sim-demo").hidden = !r.demo;
    if (r.demo) $("sim-demo-text").textContent = t("waste.sim.demo_note", { days: num(r.days), stations: num(r.stations) });
    $("sim-meta").textContent = t("waste.sim.meta", {
      days: num(r.days), warmup: num(r.warmup_days == null ? 7 : r.warmup_days), stations: num(r.stations),
      trucks: num(r.trucks), seed: r.seed, when: OC.dateTime(got.created_at),
      run: r.run_s == null ? "–" : num(r.run_s, 1),
    });
    $("sim-rows").replaceChildren(...r.results.map((p) => el("tr", {}, [
      el("th", { scope: "row", text: policyName(p.policy) }),
      el("td", { class: "num", text: num(p.truck_km, 1) }),
      el("td", { class: "num", text: num(p.stops) }),
      el("td", { class: "num", text: num(p.collected_kg) }),
      el("td", { class: "num", text: num(p.overflow_hours, 1) }),
      el("td", { class: "num", text: num(p.fires) }),
      el("td", { class: "num", text: num(p.fires_late) }),
    ])));
    const bound = r.km_saved_clairvoyant_pct;
    $("sim-saved").textContent = comparison(FORECAST, r.km_saved_vs_fixed_pct) +
      (bound == null ? "" : " " + comparison(BOUND, bound));
    $("sim-charts").replaceChildren(
      daily(r.results, "daily_km", t("waste.sim.km"), t("waste.sim.chart_km_per_day")),
      daily(r.results, "daily_overflow_hours", t("waste.sim.overflow"), t("waste.sim.chart_overflow_per_day")),
      totals(r.results)
    );
  }

  async function load() {
    let got;
    try {
      got = await api("/api/v1/waste/simulations/latest");
    } catch (err) {
      show($("sim-error"), t("err.generic", { detail: err.detail }));
      return;
    }
    show($("sim-error"), "");
    if (!got) {
      $("sim-empty").hidden = false;
      $("sim-result").hidden = true;
      return;
    }
    render(got);
  }
  load();
})();
