/* The 3D pipeline registry for RPIC staff: the pipes in the map's view (reloaded as it moves),
   coloured by kind, drawn thicker the wider they are and dashed by how deep they lie; a pipe's
   popup says whose it is and how well its position is known, and a click draws its depth
   profile (distance along the pipe against depth, ground at 0). Pipes the demo generated are
   said to be synthetic, on the page and in each popup. Builds on core.js and roadworks.js. */
(function () {
  "use strict";
  const { cfg, t, el, api, show } = OC;
  const R = window.OCR;
  const $ = (id) => document.getElementById(id);
  const KINDS = ["water", "sewer", "power", "gas", "telecom", "other"];
  const SVGNS = "http://www.w3.org/2000/svg";
  const mapEl = $("pm-map");
  const map = R.cityMap(mapEl);
  OC.pipeMap = map; // for tests and the console
  const layer = L.layerGroup().addTo(map);
  let orgs = {};
  let loading = null;
  let fitted = false; // the first load moves the map to where the pipes are
  let chosen = null; // the id of the pipe whose profile is shown
  const lines = new Map(); // pipe id -> {line, both}: what is drawn for it

  const fmt = (v, digits) => Number(v).toLocaleString(cfg.lang, { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const metres = (v) => fmt(v, 2) + " m";
  const kindName = (k) => R.purpose(KINDS.indexOf(k) >= 0 ? k : "other");
  const owner = (code) => (orgs[code] ? (cfg.lang === "en" ? orgs[code].name_en || orgs[code].name_zh : orgs[code].name_zh) : code);
  const DETAIL_ZOOM = 16; // the server sends pipes in full from this zoom

  /* Depth bands (by the shallower end: what a digger meets first) and line weight by size. */
  const depthBand = (p) => {
    const d = Math.min(p.depth_start_m, p.depth_end_m);
    return d < 1 ? "shallow" : d < 2 ? "mid" : "deep";
  };
  // Dashes scale with the line so a thick pipe's pattern reads the same as a thin one's.
  const dash = (band, w) => (band === "mid" ? `${w * 2.5} ${w * 1.5}` : band === "deep" ? `0.1 ${w * 2}` : null);
  const weight = (mm) => Math.max(2, Math.min(9, 1.5 + mm / 120));

  $("pm-kinds").replaceChildren(...KINDS.map((k) => el("li", { "data-kind": k }, R.swatch(k), kindName(k))));

  /* Distance along the line (m) and depth (m, positive down) at each vertex. */
  function stations(f) {
    const c = f.geometry.coordinates;
    const rad = Math.PI / 180;
    let along = 0;
    return c.map((v, i) => {
      if (i > 0) {
        const [lon0, lat0] = c[i - 1];
        const dx = (v[0] - lon0) * rad * Math.cos(((v[1] + lat0) / 2) * rad);
        const dy = (v[1] - lat0) * rad;
        along += 6371008.8 * Math.hypot(dx, dy);
      }
      return [along, -(v[2] || 0)];
    });
  }

  const svg = (tag, attrs, ...kids) => {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    kids.forEach((k) => e.append(k));
    return e;
  };
  const niceStep = (span) => [0.25, 0.5, 1, 2, 5, 10].find((s) => span / s <= 4) || 10;

  /* The pipe's cross-section along its length: soil below the ground line, the pipe as a band
     as tall as its diameter around its centre depth, the survey accuracy as a dashed band. */
  function profile(f, w, h) {
    const p = f.properties;
    const pts = stations(f);
    const len = Math.max(pts[pts.length - 1][0], 1);
    const r = p.diameter_mm / 2000;
    const deepest = Math.max(...pts.map((s) => s[1])) + r + (p.accuracy_m || 0);
    const maxD = Math.max(1, deepest * 1.15);
    const L0 = 46, R0 = w - 12, T0 = 14, B0 = h - 30;
    const x = (a) => L0 + (a / len) * (R0 - L0);
    const y = (d) => T0 + (d / maxD) * (B0 - T0);
    const band = (off) => pts.map(([a, d]) => x(a).toFixed(1) + "," + y(Math.max(0, d + off)).toFixed(1));
    const poly = (top, bottom) => top.concat(bottom.slice().reverse()).join(" ");
    const step = niceStep(maxD);
    const ticks = [];
    for (let d = 0; d <= maxD + 1e-9; d += step) {
      ticks.push(svg("line", { x1: L0 - 4, x2: R0, y1: y(d), y2: y(d), class: d === 0 ? "pf-ground" : "pf-grid" }));
      ticks.push(svg("text", { x: L0 - 6, y: y(d) + 4, "text-anchor": "end", class: "pf-tick" }, document.createTextNode(fmt(d, step < 1 ? 2 : 0))));
    }
    const acc = p.accuracy_m || 0;
    const ends = [
      [0, pts[0][1], "start"],
      [len, pts[pts.length - 1][1], "end"],
    ].map(([a, d, anchor]) =>
      svg("text", { x: x(a) + (anchor === "start" ? 3 : -3), y: Math.min(y(d + r) + 13, B0 - 2), "text-anchor": anchor, class: "pf-depth" }, document.createTextNode(metres(d)))
    );
    const figure = svg(
      "svg",
      { viewBox: `0 0 ${w} ${h}`, width: w, height: h, class: "reg-profile-svg", role: "img", "data-pipe": f.id, "aria-label": t("roadworks.pipemap.profile_alt", { from: metres(pts[0][1]), to: metres(pts[pts.length - 1][1]), len: fmt(len, 0) }) },
      svg("rect", { x: L0, y: y(0), width: R0 - L0, height: B0 - y(0), class: "pf-soil" }),
      ...ticks,
      acc > 0 ? svg("polygon", { points: poly(band(-r - acc), band(r + acc)), class: "pf-acc" }) : "",
      svg("polygon", { points: poly(band(-r), band(r)), fill: R.color(p.kind), class: "pf-pipe" }),
      svg("polyline", { points: band(0).join(" "), class: "pf-axis" }),
      ...ends,
      svg("text", { x: L0 + 2, y: y(0) - 4, class: "pf-label" }, document.createTextNode(t("roadworks.pipemap.ground"))),
      svg("text", { x: L0, y: h - 6, class: "pf-tick" }, document.createTextNode("0")),
      svg("text", { x: R0, y: h - 6, "text-anchor": "end", class: "pf-tick" }, document.createTextNode(fmt(len, len < 10 ? 1 : 0) + " m")),
      svg("text", { x: (L0 + R0) / 2, y: h - 6, "text-anchor": "middle", class: "pf-label" }, document.createTextNode(t("roadworks.pipemap.along"))),
      svg("text", { x: 10, y: (T0 + B0) / 2, transform: `rotate(-90 10 ${(T0 + B0) / 2})`, "text-anchor": "middle", class: "pf-label" }, document.createTextNode(t("roadworks.pipemap.depth_axis")))
    );
    return figure;
  }

  function facts(f) {
    const p = f.properties;
    const row = (key, value) => [el("dt", { text: t("roadworks.pipemap." + key) }), el("dd", { text: value })];
    return [
      ...row("owner", owner(p.owner)),
      ...row("kind", kindName(p.kind)),
      ...row("diameter", fmt(p.diameter_mm, 0) + " mm"),
      ...row("material", p.material || "–"),
      ...row("year", p.year_laid ? String(p.year_laid) : "–"),
      ...row("survey", p.survey || "–"),
      ...row("accuracy", "± " + metres(p.accuracy_m)),
      ...row("depths", t("roadworks.pipemap.depths_v", { a: metres(p.depth_start_m), b: metres(p.depth_end_m) })),
    ];
  }

  const title = (f) => t("roadworks.pipemap.pipe_title", { kind: kindName(f.properties.kind), id: f.id });
  const synthetic = (f) => (f.properties.synthetic ? el("p", { class: "reg-syn-tag", text: t("roadworks.pipemap.synthetic_tag") }) : null);

  function popup(f) {
    return el(
      "div",
      { class: "popup reg-pipe-popup", "data-pipe": f.id },
      el("h3", {}, R.swatch(f.properties.kind), title(f)),
      synthetic(f),
      el("dl", { class: "reg-facts" }, ...facts(f)),
      profile(f, 250, 130)
    );
  }

  function choose(f) {
    chosen = f.id;
    $("pf-hint").hidden = true;
    $("pf-body").hidden = false;
    $("pf-title").replaceChildren(R.swatch(f.properties.kind), title(f), synthetic(f) || "");
    $("pf-figure").replaceChildren(profile(f, 340, 190));
    $("pf-facts").replaceChildren(...facts(f));
    for (const [id, d] of lines) d.line.eachLayer((l) => l.getElement() && l.getElement().classList.toggle("is-chosen", id === f.id));
  }

  /* One pipe on the map: its line, and a wider invisible twin so a thin pipe can be tapped. */
  function addPipe(f) {
    const p = f.properties;
    const band = depthBand(p);
    const w = weight(p.diameter_mm);
    const look = { color: R.color(p.kind), weight: w, dashArray: dash(band, w), opacity: 0.9, lineCap: band === "deep" ? "round" : "butt" };
    const line = L.geoJSON(f, { style: () => Object.assign({ className: `reg-pipe kind-${p.kind} depth-${band}` + (f.id === chosen ? " is-chosen" : "") }, look) });
    const hit = L.geoJSON(f, { style: () => ({ weight: 16, opacity: 0, className: "reg-pipe-hit" }) });
    const both = L.layerGroup([line, hit]);
    for (const g of [line, hit]) {
      g.bindPopup(() => popup(f), { maxWidth: 290, minWidth: 250 });
      g.on("click", () => choose(f));
      if (!L.Browser.mobile) g.bindTooltip(title(f), { sticky: true });
    }
    both.addTo(layer);
    lines.set(f.id, { line, both });
  }

  /* Further out the server sends every pipe in the view as its plan line (detail
     "overview"): drawn at once on one canvas, coloured by kind; a click zooms in to it. */
  const canvas = L.canvas({ padding: 0.2 });
  let overview = null;
  function clearFull() {
    for (const [, d] of lines) layer.removeLayer(d.both);
    lines.clear();
  }
  function clearOverview() {
    if (overview) layer.removeLayer(overview);
    overview = null;
  }
  function drawOverview(doc) {
    clearFull();
    clearOverview();
    overview = L.geoJSON(doc, {
      renderer: canvas,
      style: (f) => ({ color: R.color(f.properties.kind), weight: Math.max(1, weight(f.properties.diameter_mm) - 2), opacity: 0.85 }),
    })
      .on("click", (e) => map.setView(e.latlng, Math.max(map.getZoom() + 2, DETAIL_ZOOM)))
      .addTo(layer);
  }

  /* Near in, each pipe in full. Only the pipes that came into or left the view change, so an
     open popup stays open when the map moves (opening one near the edge pans the map). */
  function drawFull(doc) {
    clearOverview();
    const ids = new Set(doc.features.map((f) => f.id));
    for (const [id, drawn] of lines) {
      if (ids.has(id)) continue;
      layer.removeLayer(drawn.both);
      lines.delete(id);
    }
    for (const f of doc.features) if (!lines.has(f.id)) addPipe(f);
  }

  function draw(doc) {
    if (doc.detail === "overview") drawOverview(doc);
    else drawFull(doc);
    mapEl.dataset.pipes = String(doc.features.length);
    mapEl.dataset.matched = String(doc.numberMatched);
    mapEl.dataset.detail = doc.detail;
    $("pm-count").textContent = "(" + t("roadworks.pipemap.count", { n: OC.num(doc.numberMatched) }) + ")";
    // Never a silent cut: say how many are drawn, and how.
    const line = doc.zoom_in
      ? t("roadworks.pipemap.zoom_in", { n: OC.num(doc.numberMatched) })
      : doc.detail === "overview"
        ? t("roadworks.pipemap.overview", { shown: OC.num(doc.numberReturned), n: OC.num(doc.numberMatched) })
        : "";
    show($("pm-capped"), line);
    $("pm-synthetic").hidden = !doc.features.some((f) => f.properties.synthetic);
    if (!fitted && doc.features.length) {
      fitted = true;
      map.fitBounds(L.geoJSON(doc).getBounds(), { padding: [24, 24], maxZoom: 18 });
      mapEl.dataset.fitted = "true";
    }
  }

  /* The pipes of the view, asked by box and zoom; only the newest answer is drawn. */
  let asked = 0;
  async function load() {
    const b = map.getBounds();
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",");
    if (loading) loading.abort();
    const mine = (loading = new AbortController());
    const n = ++asked;
    mapEl.dataset.loading = "true";
    const started = performance.now();
    try {
      const doc = await api("/api/v1/roadworks/pipes?" + new URLSearchParams({ bbox: bbox, zoom: String(Math.floor(map.getZoom())) }), { signal: mine.signal });
      if (n !== asked) return; // a later view was asked for meanwhile
      draw(doc);
      mapEl.dataset.drawMs = String(Math.round(performance.now() - started));
      show($("pm-error"), "");
    } catch (err) {
      if (err.name === "AbortError" || n !== asked) return;
      show($("pm-error"), t("roadworks.pipemap.error", { detail: err.detail }));
    }
    if (loading === mine) mapEl.dataset.loading = "false";
  }

  const reload = OC.debounce(load, 250);
  map.on("moveend", reload);
  api("/api/v1/roadworks/orgs")
    .then((list) => (orgs = Object.fromEntries(list.map((o) => [o.code, o]))))
    .catch(() => {}) // names are a nicety: codes still say whose a pipe is
    .finally(load);
})();
