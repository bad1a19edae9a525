/* The newest collection simulation (`onecity waste simulate`): per policy truck km, stops,
   kg, overflow hours and fires handled late, and its charts, drawn on the server as SVG
   (matplotlib) and shown here as images. Data: GET /api/v1/waste/simulations/latest. */
(function () {
  "use strict";
  const { t, el, api, show } = OC;
  const int = new Intl.NumberFormat(OC.cfg.lang, { maximumFractionDigits: 0 });
  const one = new Intl.NumberFormat(OC.cfg.lang, { maximumFractionDigits: 1 });
  const rows = document.getElementById("sim-rows");
  const meta = document.getElementById("sim-meta");
  const saved = document.getElementById("sim-saved");
  const charts = document.getElementById("sim-charts");
  const errorLine = document.getElementById("sim-error");

  /* An SVG document as an image source (data: is the only image origin besides this server). */
  function svgSource(text) {
    const bytes = new TextEncoder().encode(text);
    let bin = "";
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return "data:image/svg+xml;base64," + btoa(bin);
  }

  function policyName(p) {
    const key = "waste.sim.policy_" + p;
    const s = t(key);
    return s === key ? p : s;
  }

  async function load() {
    let got;
    try {
      got = await api("/api/v1/waste/simulations/latest");
    } catch (err) {
      show(errorLine, err.status === 404 ? t("waste.sim.none") : t("err.generic", { detail: err.detail }));
      return;
    }
    show(errorLine, "");
    const r = got.report;
    meta.textContent = t("waste.sim.meta", {
      days: r.days, stations: r.stations, trucks: r.trucks, seed: r.seed,
      when: new Date(got.created_at).toLocaleString(OC.cfg.lang),
    });
    rows.replaceChildren(...r.results.map((p) => el("tr", {}, [
      el("th", { scope: "row", text: policyName(p.policy) }),
      el("td", { class: "num", text: one.format(p.truck_km) }),
      el("td", { class: "num", text: int.format(p.stops) }),
      el("td", { class: "num", text: int.format(p.collected_kg) }),
      el("td", { class: "num", text: one.format(p.overflow_hours) }),
      el("td", { class: "num", text: int.format(p.fires) }),
      el("td", { class: "num", text: int.format(p.fires_late) }),
    ])));
    saved.textContent = t("waste.sim.saved", { pct: one.format(r.km_saved_vs_fixed_pct) }) +
      (r.km_saved_clairvoyant_pct === undefined ? "" : " " + t("waste.sim.saved_bound", {
        pct: one.format(r.km_saved_clairvoyant_pct),
      }));
    const names = Object.keys(got.charts).sort();
    charts.replaceChildren(...names.map((name) => el("figure", { class: "sim-chart sim-chart-" + name }, [
      el("img", { src: svgSource(got.charts[name]), alt: t("waste.sim.chart_" + name) }),
      el("figcaption", { text: t("waste.sim.chart_" + name) }),
    ])));
  }
  load();
})();
