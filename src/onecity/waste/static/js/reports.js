/* iTrash reports: tonnage stacked by material, fees against rebates, availability per station
   against its target, time to service and repair. The charts are small SVG drawings made
   here: no chart library, nothing fetched from elsewhere. Figures: GET /reports/summary. */
(function () {
  "use strict";
  const { t, el, api, show } = OC;
  const W = OCW;
  // The SVG namespace, from the browser's own parser (no address written in this file).
  const NS = new DOMParser().parseFromString("<svg></svg>", "text/html").body.firstChild.namespaceURI;
  const form = document.getElementById("rp-form");
  const from = document.getElementById("rp-from");
  const to = document.getElementById("rp-to");
  const period = document.getElementById("rp-period");
  const one = new Intl.NumberFormat(OC.cfg.lang, { maximumFractionDigits: 1 });
  const pct = new Intl.NumberFormat(OC.cfg.lang, { style: "percent", maximumFractionDigits: 1 });

  function svgEl(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text != null) e.textContent = text;
    return e;
  }

  /* About `count` round steps from 0 to at least `hi`. */
  function ticks(hi, count) {
    if (!(hi > 0)) hi = 1;
    const raw = hi / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    const out = [];
    for (let v = 0; v < hi + step - 1e-9; v += step) out.push(+v.toPrecision(12));
    return out;
  }

  function legend(items) {
    return el("ul", { class: "rp-legend" }, items.map(([cls, label, shape]) => el("li", {}, el("span", { class: "sw " + cls + (shape ? " " + shape : ""), "aria-hidden": "true" }), label)));
  }

  function empty(fig) {
    fig.replaceChildren(el("p", { class: "empty", text: t("waste.reports.none") }));
  }

  function frame(w, h, desc) {
    const svg = svgEl("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": desc, class: "rp-svg" });
    svg.append(svgEl("title", {}, desc));
    return svg;
  }

  /* Vertical bars per category; `stack` piles the series, otherwise they stand side by side.
     `line` (optional) is one more series drawn as a line with points over the bars. */
  function columns(fig, opts) {
    const { cats, series, stack, line, unit, desc } = opts;
    fig.replaceChildren();
    if (!cats.length) return empty(fig);
    const w = 640, h = 270, pad = { l: 56, r: 12, t: 26, b: 44 };
    const total = (i) => (stack ? series.reduce((s, x) => s + x.values[i], 0) : Math.max(...series.map((x) => x.values[i])));
    const hi = Math.max(...cats.map((_, i) => total(i)), ...(line ? line.values : [0]));
    const yt = ticks(hi, 4);
    const top = yt[yt.length - 1];
    const y = (v) => h - pad.b - (v / top) * (h - pad.t - pad.b);
    const band = (w - pad.l - pad.r) / cats.length;
    const svg = frame(w, h, desc);
    for (const v of yt) {
      svg.append(svgEl("line", { x1: pad.l, x2: w - pad.r, y1: y(v), y2: y(v), class: "grid" }));
      svg.append(svgEl("text", { x: pad.l - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, one.format(v)));
    }
    svg.append(svgEl("text", { x: pad.l - 6, y: 12, "text-anchor": "end", class: "tick" }, unit));
    const bw = Math.min(48, band * 0.7);
    const every = Math.ceil(cats.length / 12); // at most 12 labels under the axis
    cats.forEach((cat, i) => {
      const x0 = pad.l + band * i + (band - bw) / 2;
      let base = 0;
      series.forEach((s, k) => {
        const v = s.values[i];
        const sw = stack ? bw : bw / series.length;
        const x = stack ? x0 : x0 + sw * k;
        const y0 = stack ? base : 0;
        if (v > 0) {
          const r = svgEl("rect", { x: x, y: y(y0 + v), width: Math.max(sw - 1, 1), height: y(y0) - y(y0 + v), class: s.cls });
          r.append(svgEl("title", {}, `${cat} · ${s.label}: ${s.fmt(v)}`));
          svg.append(r);
        }
        if (stack) base += v;
      });
      if (i % every === 0) svg.append(svgEl("text", { x: pad.l + band * i + band / 2, y: h - pad.b + 16, "text-anchor": "middle", class: "tick" }, cat.length > 7 ? cat.slice(5) : cat));
    });
    if (line) {
      const pts = cats.map((_, i) => [pad.l + band * i + band / 2, y(line.values[i])]);
      svg.append(svgEl("polyline", { points: pts.map((p) => p.join(",")).join(" "), class: line.cls }));
      pts.forEach((p, i) => {
        const c = svgEl("circle", { cx: p[0], cy: p[1], r: 3.5, class: line.cls + "-pt" });
        c.append(svgEl("title", {}, `${cats[i]} · ${line.label}: ${line.fmt(line.values[i])}`));
        svg.append(c);
      });
    }
    svg.append(svgEl("line", { x1: pad.l, x2: w - pad.r, y1: y(0), y2: y(0), class: "axis" }));
    const items = series.map((s) => [s.cls, s.label]);
    if (line) items.push([line.cls, line.label, "sw-line"]);
    fig.append(svg, legend(items));
  }

  /* Horizontal bars, one row per station; `target` draws a dashed line at that value. */
  function rows(fig, opts) {
    const { items, max, target, targetLabel, fmt, desc, caption, keys } = opts;
    fig.replaceChildren();
    if (caption) fig.append(el("figcaption", { text: caption }));
    if (!items.length) return fig.append(el("p", { class: "empty", text: t("waste.reports.none") }));
    const w = 640, rowH = 26, pad = { l: 170, r: 70, t: 8, b: 24 };
    const h = pad.t + pad.b + rowH * items.length;
    const x = (v) => pad.l + (Math.min(v, max) / max) * (w - pad.l - pad.r);
    const svg = frame(w, h, desc);
    for (const v of ticks(max, 4).filter((v) => v <= max)) {
      svg.append(svgEl("line", { x1: x(v), x2: x(v), y1: pad.t, y2: h - pad.b, class: "grid" }));
      svg.append(svgEl("text", { x: x(v), y: h - 8, "text-anchor": "middle", class: "tick" }, fmt(v)));
    }
    items.forEach((it, i) => {
      const top = pad.t + rowH * i;
      svg.append(svgEl("text", { x: pad.l - 8, y: top + rowH / 2 + 4, "text-anchor": "end", class: "label", lang: it.lang || OC.cfg.lang }, it.label.length > 22 ? it.label.slice(0, 21) + "…" : it.label));
      const bars = it.bars.filter((b) => b.value != null);
      bars.forEach((b, k) => {
        const bh = (rowH - 8) / bars.length;
        const r = svgEl("rect", { x: pad.l, y: top + 4 + bh * k, width: Math.max(x(b.value) - pad.l, 1), height: bh - 1, class: b.cls });
        r.append(svgEl("title", {}, `${it.label} · ${b.label}: ${fmt(b.value)}`));
        svg.append(r);
      });
      if (it.note) svg.append(svgEl("text", { x: w - pad.r + 6, y: top + rowH / 2 + 4, class: "val" }, it.note));
    });
    if (target != null) {
      svg.append(svgEl("line", { x1: x(target), x2: x(target), y1: pad.t - 4, y2: h - pad.b, class: "rp-target" }));
    }
    svg.append(svgEl("line", { x1: pad.l, x2: pad.l, y1: pad.t, y2: h - pad.b, class: "axis" }));
    const items2 = keys.slice();
    if (target != null) items2.push(["rp-target", targetLabel, "sw-dash"]);
    fig.append(svg, legend(items2));
  }

  const hoursText = (v) => (v == null ? "–" : t("waste.reports.hours", { n: one.format(v) }));

  function kpis(r) {
    const sum = (list, k) => list.reduce((s, x) => s + x[k], 0);
    const ton = r.tonnage.by_period, money = r.money.by_period;
    const item = (label, value) => el("li", {}, el("span", { class: "k", text: label }), el("span", { class: "v", text: value }));
    document.getElementById("rp-kpis").replaceChildren(
      item(t("waste.reports.garbage_kg"), OC.kg(sum(ton, "garbage_kg"))),
      item(t("waste.reports.recyclables_kg"), OC.kg(sum(ton, "recyclables_kg_est"))),
      item(t("waste.reports.collected_kg"), OC.kg(sum(ton, "collected_kg"))),
      item(t("waste.reports.fees"), W.ntd(sum(money, "fees_ntd"))),
      item(t("waste.reports.rebates"), W.ntd(sum(money, "rebates_ntd"))),
      item(t("waste.reports.service_median"), hoursText(r.response.service.overall.median_h)),
      item(t("waste.reports.repair_median"), hoursText(r.response.repair.overall.median_h))
    );
  }

  function draw(r) {
    const names = new Map(r.stations.map((s) => [s.id, s.name || s.id]));
    const cats = r.periods;
    const ton = new Map(r.tonnage.by_period.map((x) => [x.period, x]));
    const pick = (map, k) => cats.map((p) => (map.get(p) ? map.get(p)[k] : 0));
    const kg = (v) => OC.kg(v);
    columns(document.getElementById("rp-tonnage"), {
      cats,
      stack: true,
      unit: "kg",
      desc: t("waste.reports.tonnage"),
      series: [
        { cls: "s-garbage", label: t("waste.reports.garbage_kg"), values: pick(ton, "garbage_kg"), fmt: kg },
        { cls: "s-pet", label: t("waste.reports.pet_kg", { g: r.item_grams.pet }), values: pick(ton, "pet_kg_est"), fmt: kg },
        { cls: "s-aluminium", label: t("waste.reports.aluminium_kg", { g: r.item_grams.aluminium }), values: pick(ton, "aluminium_kg_est"), fmt: kg },
      ],
      line: { cls: "s-collected", label: t("waste.reports.collected_kg"), values: pick(ton, "collected_kg"), fmt: kg },
    });
    const money = new Map(r.money.by_period.map((x) => [x.period, x]));
    columns(document.getElementById("rp-money"), {
      cats,
      stack: false,
      unit: "NT$",
      desc: t("waste.reports.money"),
      series: [
        { cls: "s-fees", label: t("waste.reports.fees"), values: pick(money, "fees_ntd"), fmt: W.ntd },
        { cls: "s-rebates", label: t("waste.reports.rebates"), values: pick(money, "rebates_ntd"), fmt: W.ntd },
      ],
    });
    const goal = r.availability_target;
    rows(document.getElementById("rp-availability"), {
      max: 1,
      target: goal,
      targetLabel: t("waste.reports.target", { v: pct.format(goal) }),
      fmt: (v) => pct.format(v),
      desc: t("waste.reports.availability"),
      keys: [["s-up", t("waste.reports.uptime")], ["s-up-low", t("waste.reports.below_target")]],
      items: r.availability.map((a) => ({
        label: names.get(a.station_id) || a.station_id,
        lang: OC.cfg.data_language,
        bars: [{ cls: a.uptime != null && a.uptime < goal ? "s-up-low" : "s-up", label: t("waste.reports.uptime"), value: a.uptime }],
        note: a.uptime == null ? "–" : pct.format(a.uptime),
      })),
    });
    for (const kind of ["service", "repair"]) {
      const block = r.response[kind];
      const list = [{ station_id: null, ...block.overall }, ...block.by_station].filter((s) => s.closed > 0);
      const hi = Math.max(1, ...list.map((s) => s.p90_h || 0));
      const target = kind === "service" ? r.targets_h.full : null;
      rows(document.getElementById("rp-" + kind), {
        caption: t("waste.reports." + kind + "_caption"),
        max: Math.max(hi, target || 0) * 1.05,
        target,
        targetLabel: t("waste.reports.target", { v: hoursText(target) }),
        fmt: hoursText,
        desc: t("waste.reports." + kind + "_caption"),
        keys: [["s-median", t("waste.reports.median")], ["s-p90", t("waste.reports.p90")]],
        items: list.map((s) => ({
          label: s.station_id ? names.get(s.station_id) || s.station_id : t("waste.reports.all_stations"),
          lang: s.station_id ? OC.cfg.data_language : OC.cfg.lang,
          bars: [
            { cls: "s-median", label: t("waste.reports.median"), value: s.median_h },
            { cls: "s-p90", label: t("waste.reports.p90"), value: s.p90_h },
          ],
          note: t("waste.reports.within", { v: s.within_target == null ? "–" : pct.format(s.within_target) }),
        })),
      });
    }
    const full = r.hours_full.slice().sort((a, b) => b.hours_full - a.hours_full);
    document.getElementById("rp-full").replaceChildren(
      ...full.map((x) =>
        el("tr", {},
          el("td", { "data-label": t("waste.col.station") }, OC.name(names.get(x.station_id) || x.station_id)),
          el("td", { "data-label": t("waste.reports.compartment"), text: x.compartment ? t("waste.compartment." + x.compartment) : "–" }),
          el("td", { "data-label": t("waste.reports.full_jobs"), class: "num", text: W.int(x.jobs) }),
          el("td", { "data-label": t("waste.reports.hours_full"), class: "num", text: one.format(x.hours_full) }),
          el("td", { "data-label": t("waste.reports.overflow_hours"), class: "num", text: one.format(x.overflow_hours) })
        )
      )
    );
    document.getElementById("rp-full-empty").hidden = full.length > 0;
  }

  async function load() {
    const values = { from: from.value, to: to.value, period: period.value };
    W.setParams(values);
    const q = new URLSearchParams(values);
    document.getElementById("rp-csv").setAttribute("href", "/api/v1/waste/reports/summary.csv?" + q);
    try {
      const r = await api("/api/v1/waste/reports/summary?" + q);
      show(document.getElementById("rp-error"), "");
      kpis(r);
      draw(r);
      document.getElementById("rp-status").textContent = t("waste.reports.as_of", { from: r.from, to: r.to, time: OC.dateTime(r.generated_at) });
    } catch (err) {
      show(document.getElementById("rp-error"), t("err.generic", { detail: err.detail }));
    }
  }

  // Default: the last 30 days up to today, by day.
  const start = W.params();
  const today = W.today();
  const back = new Date(Date.parse(today + "T00:00:00Z") - 29 * 86400000).toISOString().slice(0, 10);
  from.value = start.get("from") || back;
  to.value = start.get("to") || today;
  period.value = ["day", "week", "month"].includes(start.get("period")) ? start.get("period") : "day";
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    load();
  });
  period.addEventListener("change", load);
  load();
})();
