/* A small SVG line chart: the bucket averages as a line over a min–max band, with time and
   value axes. No library: it draws only what the device page needs. */
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const W = 720, H = 260, PAD = { l: 56, r: 16, t: 12, b: 30 };

  function svgEl(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text != null) e.textContent = text;
    return e;
  }

  /* About `count` round tick values from a round number at or below lo to one at or above hi. */
  function ticks(lo, hi, count) {
    const span = hi - lo || Math.abs(hi) || 1;
    const raw = span / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    const out = [];
    const top = Math.ceil(hi / step - 1e-9) * step;
    for (let v = Math.floor(lo / step + 1e-9) * step; v <= top + step * 1e-9; v += step) out.push(+v.toPrecision(12));
    return out;
  }

  /* points: [{ts, value, min, max}], bucketS: the bucket width (breaks the line at gaps). */
  OC.lineChart = function (figure, points, opts) {
    const { key, start, end, bucketS } = opts;
    figure.replaceChildren();
    const pts = points.filter((p) => typeof p.value === "number").map((p) => ({ ...p, t: OC.parseTime(p.ts).getTime() }));
    if (!pts.length) {
      figure.append(OC.el("p", { class: "empty", text: OC.t("chart.empty") }));
      return;
    }
    let lo = Math.min(...pts.map((p) => (p.min ?? p.value)));
    let hi = Math.max(...pts.map((p) => (p.max ?? p.value)));
    if (lo === hi) {
      lo -= Math.abs(lo) * 0.1 || 1;
      hi += Math.abs(hi) * 0.1 || 1;
    }
    const yt = ticks(lo, hi, 5);
    lo = yt[0];
    hi = yt[yt.length - 1];
    const t0 = start.getTime(), t1 = end.getTime();
    const x = (t) => PAD.l + ((t - t0) / (t1 - t0)) * (W - PAD.l - PAD.r);
    const y = (v) => H - PAD.b - ((v - lo) / (hi - lo)) * (H - PAD.t - PAD.b);

    const desc = OC.t("chart.desc", { key: key, n: pts.length, min: OC.num(Math.min(...pts.map((p) => p.value))), max: OC.num(Math.max(...pts.map((p) => p.value))) });
    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": desc, class: "chart-svg" });
    svg.append(svgEl("title", {}, desc));

    for (const v of yt) {
      svg.append(svgEl("line", { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v), class: "grid" }));
      svg.append(svgEl("text", { x: PAD.l - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, OC.num(v)));
    }
    const span = t1 - t0;
    for (let i = 0; i <= 4; i++) {
      const t = t0 + (span * i) / 4;
      const label = span > 2 * 86400000 ? OC.dateTime(new Date(t)).replace(/:\d\d$/, "") : OC.time(new Date(t)).slice(0, 5);
      svg.append(svgEl("text", { x: x(t), y: H - 8, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle", class: "tick" }, label));
    }
    svg.append(svgEl("line", { x1: PAD.l, x2: W - PAD.r, y1: H - PAD.b, y2: H - PAD.b, class: "axis" }));

    // Split into runs wherever readings stop for more than two buckets: no line over a gap.
    const maxGap = Math.max((bucketS || 60) * 2000, 1);
    const runs = [];
    pts.forEach((p, i) => {
      if (i === 0 || p.t - pts[i - 1].t > maxGap) runs.push([]);
      runs[runs.length - 1].push(p);
    });
    for (const run of runs) {
      if (run.some((p) => p.min != null && p.max != null)) {
        const top = run.map((p) => `${x(p.t).toFixed(1)},${y(p.max ?? p.value).toFixed(1)}`);
        const bottom = run.slice().reverse().map((p) => `${x(p.t).toFixed(1)},${y(p.min ?? p.value).toFixed(1)}`);
        svg.append(svgEl("polygon", { points: top.concat(bottom).join(" "), class: "band" }));
      }
      const d = run.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.value).toFixed(1)}`).join("");
      svg.append(svgEl("path", { d: d, class: "line" }));
    }
    if (pts.length <= 120) {
      for (const p of pts) {
        const c = svgEl("circle", { cx: x(p.t), cy: y(p.value), r: 3, class: "pt" });
        c.append(svgEl("title", {}, `${OC.dateTime(new Date(p.t))}  ${key} = ${OC.num(p.value)}`));
        svg.append(c);
      }
    }
    figure.append(svg);
    figure.append(
      OC.el("figcaption", { class: "legend" },
        OC.el("span", { class: "key-line", "aria-hidden": "true" }), OC.t("chart.line") + " ",
        OC.el("span", { class: "key-band", "aria-hidden": "true" }), OC.t("chart.band"))
    );
  };
})();
