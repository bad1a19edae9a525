/* The city overview (/overview for staff, /city for the public): one card per city system as
   the modules declare them (GET page.api), each with its figures, chart, freshness badge
   (OC.Freshness, so stale data is obvious), source and a more-info dialog with history and
   downloads; the cards' map layers share one map. Cards update by server push: staff with the
   live stream re-fetch a card on its event types (OC.live), everybody else listens to the
   public stream's "card changed" notices. A slow timer re-reads everything as a safety net. */
(function () {
  "use strict";
  const { cfg, page, t, el, api, show } = OC;
  const REFRESH_MS = 45000;
  const list = document.getElementById("overview-cards");
  const errorEl = document.getElementById("overview-error");
  const cards = new Map(); // id -> {card, li, fresh, layer, shown}
  const cardUrl = (id) => page.api + "/cards/" + encodeURIComponent(id);

  /* --- numbers, units and axis labels in the page's language --------------------------- */
  function fmt(value, unit) {
    if (value == null) return "–";
    if (unit === "percent") return OC.percent(value);
    if (unit === "kg") return OC.kg(value);
    if (unit === "money") return OC.money(value);
    if (unit === "days") return t("overview.unit.days", { n: OC.num(value) });
    return OC.num(value);
  }
  /* An x value or a table cell as text or an element (proper names keep their language). */
  function label(x, kind) {
    if (x == null || x === "") return "–";
    if (kind === "day") return OC.date(x);
    if (kind === "time") return OC.dateTime(x);
    if (kind === "name") return OC.name(x);
    if (kind === "key" || kind === "text") return typeof x === "string" && cfg.messages[x] ? t(x) : String(x);
    return fmt(x, kind);
  }
  const plain = (x, kind) => {
    const got = label(x, kind);
    return typeof got === "string" ? got : got.textContent;
  };

  /* --- freshness: the shell's indicator, also stale when the server says the data is ----- */
  class CardFresh extends OC.Freshness {
    get live() {
      return super.live && this.dataStale === false;
    }
  }

  /* --- charts: bars for categories, lines over days; plain SVG ------------------------- */
  const NS = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text != null) e.textContent = text;
    return e;
  };
  const COLORS = ["#0a58ca", "#1a7f37", "#8250df", "#b35900"];

  function chartDesc(card, chart) {
    const ys = chart.series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => typeof v === "number");
    if (!ys.length) return "";
    return t("overview.chart_desc", { title: t(card.title), n: ys.length, min: fmt(Math.min(...ys), chart.unit), max: fmt(Math.max(...ys), chart.unit) });
  }

  function barChart(card, chart, onPick) {
    const s = chart.series[0];
    const max = Math.max(...s.points.map((p) => p[1] || 0), chart.unit === "percent" ? 1 : 0) || 1;
    const rows = s.points.map(([x, y]) =>
      el(
        "li",
        { class: "bar-row", "data-x": x },
        el("span", { class: "bar-label" }, label(x, chart.x)),
        el(
          "span",
          { class: "bar-track", "aria-hidden": "true" },
          el("span", { class: "bar-fill" + (chart.unit === "percent" && y >= 0.8 ? " is-high" : ""), "data-w": Math.round((100 * (y || 0)) / max) })
        ),
        el("span", { class: "bar-value", text: fmt(y, chart.unit) })
      )
    );
    const ol = el("ol", { class: "bars", "aria-label": chartDesc(card, chart) }, rows);
    // The CSP forbids inline styles in markup, not widths set from script.
    ol.querySelectorAll(".bar-fill").forEach((b) => (b.style.width = b.dataset.w + "%"));
    if (onPick && chart.x === "name") {
      ol.addEventListener("click", (ev) => {
        const row = ev.target.closest(".bar-row");
        if (row) onPick(row.dataset.x);
      });
      ol.classList.add("is-linked");
    }
    return ol;
  }

  function lineChart(card, chart) {
    const W = 360, H = 120, P = { l: 44, r: 8, t: 8, b: 22 };
    const n = Math.max(...chart.series.map((s) => s.points.length));
    const ys = chart.series.flatMap((s) => s.points.map((p) => p[1] || 0));
    const hi = Math.max(...ys, 1);
    const x = (i) => P.l + (n > 1 ? (i / (n - 1)) * (W - P.l - P.r) : 0);
    const y = (v) => H - P.b - (v / hi) * (H - P.t - P.b);
    const desc = chartDesc(card, chart);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": desc, class: "overview-line" });
    root.append(svg("title", {}, desc));
    [0, hi / 2, hi].forEach((v) => {
      root.append(svg("line", { x1: P.l, x2: W - P.r, y1: y(v), y2: y(v), class: "grid" }));
      root.append(svg("text", { x: P.l - 4, y: y(v) + 4, "text-anchor": "end", class: "tick" }, fmt(Math.round(v * 10) / 10, chart.unit)));
    });
    const first = chart.series[0].points;
    if (first.length) {
      root.append(svg("text", { x: P.l, y: H - 6, class: "tick" }, plain(first[0][0], chart.x)));
      root.append(svg("text", { x: W - P.r, y: H - 6, "text-anchor": "end", class: "tick" }, plain(first[first.length - 1][0], chart.x)));
    }
    chart.series.forEach((s, i) => {
      const pts = s.points.map((p, j) => `${x(j).toFixed(1)},${y(p[1] || 0).toFixed(1)}`).join(" ");
      root.append(svg("polyline", { points: pts, fill: "none", stroke: COLORS[i % COLORS.length], "stroke-width": 2 }));
    });
    const legend = el(
      "ul",
      { class: "overview-legend" },
      chart.series.map((s, i) => el("li", {}, el("span", { class: "swatch swatch-" + i, "aria-hidden": "true" }), t(s.label)))
    );
    return el("div", { class: "overview-linechart" }, root, legend);
  }

  function drawChart(box, card) {
    const chart = card.chart;
    box.replaceChildren();
    box.hidden = !chart;
    if (!chart) return;
    const any = chart.series.some((s) => s.points.some((p) => typeof p[1] === "number"));
    if (!any) {
      box.append(el("p", { class: "empty", text: t("overview.chart_empty") }));
      return;
    }
    const pick = card.map ? (name) => focusFeature(card.id, name) : null;
    box.append(chart.kind === "line" ? lineChart(card, chart) : barChart(card, chart, pick));
  }

  /* --- the shared map ------------------------------------------------------------------ */
  const mapEl = document.getElementById("overview-map");
  const mapNote = document.getElementById("overview-map-note");
  const [w, s, e, n] = cfg.city.bounds;
  const map = L.map(mapEl, { minZoom: 10, zoomSnap: 0.5, maxBounds: L.latLngBounds([s - 0.15, w - 0.15], [n + 0.15, e + 0.15]) });
  map.attributionControl.setPrefix(false);
  map.createPane("districts").style.zIndex = 350;
  if (cfg.tile_url) {
    L.tileLayer(cfg.tile_url, { maxZoom: 19 }).addTo(map);
    mapEl.classList.add("has-tiles");
  }
  map.fitBounds(L.latLngBounds([s, w], [n, e]));
  api("/api/v1/geo/districts")
    .then((gj) =>
      L.geoJSON(gj, {
        pane: "districts",
        interactive: false,
        style: { color: "#3d5a80", weight: 1.2, fillColor: cfg.tile_url ? "#3d5a80" : "#f7f3ea", fillOpacity: cfg.tile_url ? 0.04 : 1 },
      }).addTo(map)
    )
    .catch(() => {
      /* the cards' layers still show without the district outlines */
    });

  const STATE_COLORS = { open: "#1a7f37", full: "#b35900", out_of_order: "#cf222e", offline: "#6e7781", unknown: "#8c959f" };
  const CARD_COLORS = ["#8250df", "#0a58ca", "#bf3989", "#1b7c83"];

  function featureLabel(p) {
    const name = p.name || p.road || p.ref || "";
    const bits = [OC.name(name)];
    if (p.state) bits.push(" · " + t("overview.state." + p.state));
    if (typeof p.fill === "number") bits.push(" · " + OC.percent(p.fill));
    if (p.end_date) bits.push(" · " + OC.date(p.start_date) + " – " + OC.date(p.end_date));
    return el("span", {}, bits);
  }

  async function loadLayer(entry) {
    const card = entry.card;
    if (!card.map) return;
    try {
      const gj = await api(card.map.url);
      const color = CARD_COLORS[[...cards.keys()].indexOf(card.id) % CARD_COLORS.length];
      const group = L.featureGroup();
      L.geoJSON(gj).eachLayer((l) => {
        const p = l.feature.properties || {};
        const at = l.getBounds ? l.getBounds().getCenter() : l.getLatLng();
        const dot = L.circleMarker(at, { radius: 6, color: "#fff", weight: 1.5, fillColor: STATE_COLORS[p.state] || color, fillOpacity: 0.92 });
        dot.feature = l.feature;
        dot.bindTooltip(featureLabel(p));
        dot.addTo(group);
      });
      const was = entry.layer;
      entry.layer = group;
      entry.count = (gj.features || []).length;
      if (was) map.removeLayer(was);
      if (entry.shown) group.addTo(map);
      mapEl.dataset["layer_" + card.id.replace(/\W/g, "_")] = String(entry.count);
      show(document.getElementById("overview-map-error"), "");
    } catch (err) {
      show(document.getElementById("overview-map-error"), t("overview.map.error", { card: t(card.title), detail: err.detail || err.message }));
    }
  }

  function showOnMap(id) {
    const entry = cards.get(id);
    if (!entry || !entry.layer) return;
    for (const other of cards.values()) {
      if (other.layer && other !== entry && other.shown) {
        other.shown = false;
        map.removeLayer(other.layer);
      }
      const btn = other.li.querySelector(".show-map");
      if (btn) {
        btn.setAttribute("aria-pressed", String(other === entry));
        btn.textContent = t(other === entry ? "overview.shown_on_map" : "overview.show_on_map");
      }
      other.li.classList.toggle("is-on-map", other === entry);
    }
    entry.shown = true;
    entry.layer.addTo(map);
    const b = entry.layer.getBounds();
    if (b.isValid()) map.fitBounds(b.pad(0.15), { maxZoom: 14, animate: false });
    mapNote.textContent = t("overview.map.count", { card: t(entry.card.title), n: OC.num(entry.count || 0) });
    if (window.matchMedia("(max-width: 900px)").matches) mapEl.scrollIntoView({ behavior: "smooth", block: "center" });
  }

  function focusFeature(id, name) {
    showOnMap(id);
    const entry = cards.get(id);
    entry.layer.eachLayer((m) => {
      if ((m.feature.properties || {}).name === name) {
        map.setView(m.getLatLng(), Math.max(map.getZoom(), 15), { animate: false });
        m.openTooltip();
      }
    });
  }

  /* --- a card ---------------------------------------------------------------------------- */
  function build(card) {
    const name = "card-" + card.id;
    const li = el(
      "li",
      { class: "panel overview-card", "data-card": card.id, "data-system": card.system },
      el(
        "div",
        { class: "panel-head" },
        el("h2", {}, t(card.title), " ", page.public ? null : el("span", { class: "scope scope-" + (card.public ? "public" : "staff"), text: t(card.public ? "overview.public_badge" : "overview.staff_badge") })),
        el(
          "p",
          { class: "fresh", "data-fresh": name, "data-state": "stale" },
          el("span", { class: "fresh-time", text: t("fresh.never") }),
          el("span", { class: "badge badge-stale", text: t("fresh.stale") })
        )
      ),
      el("p", { class: "error card-error", role: "alert", hidden: true }),
      el("ul", { class: "figures" }),
      el("div", { class: "card-chart" }),
      el(
        "div",
        { class: "card-foot" },
        el("p", { class: "card-source" }),
        el(
          "p",
          { class: "card-actions" },
          card.map ? el("button", { type: "button", class: "btn btn-small btn-quiet show-map", "aria-pressed": "false", text: t("overview.show_on_map"), onclick: () => showOnMap(card.id) }) : null,
          el("button", { type: "button", class: "btn btn-small more", text: t("overview.more"), onclick: () => openDialog(card.id) })
        )
      )
    );
    list.append(li);
    const entry = { card: card, li: li, fresh: new CardFresh(name), layer: null, shown: false };
    cards.set(card.id, entry);
    return entry;
  }

  function fill(entry, card) {
    entry.card = card;
    const li = entry.li;
    show(li.querySelector(".card-error"), card.available ? "" : t("overview.unavailable"));
    li.querySelector(".figures").replaceChildren(
      ...card.figures.map((f, i) =>
        el(
          "li",
          { class: "figure" + (i === 0 ? " figure-main" : ""), "data-key": f.key, "data-value": f.value == null ? "" : String(f.value) },
          el("span", { class: "figure-value", text: fmt(f.value, f.unit) }),
          el("span", { class: "figure-label", text: t(f.label) })
        )
      )
    );
    drawChart(li.querySelector(".card-chart"), card);
    li.querySelector(".card-source").replaceChildren(
      el("a", { href: card.source.link, text: t("overview.source", { source: t(card.source.text) }) })
    );
    li.dataset.stale = String(card.freshness.stale);
    entry.fresh.dataStale = card.freshness.stale;
    entry.fresh.mark(card.freshness.as_of || undefined);
  }

  function upsert(card) {
    const entry = cards.get(card.id) || build(card);
    fill(entry, card);
    return entry;
  }

  /* --- loading and push ------------------------------------------------------------------ */
  let loaded = false;
  async function loadAll() {
    try {
      const r = await api(page.api);
      show(errorEl, "");
      const fresh = !loaded;
      r.cards.forEach(upsert);
      for (const id of [...cards.keys()]) {
        if (!r.cards.some((c) => c.id === id)) {
          cards.get(id).li.remove();
          cards.delete(id);
        }
      }
      list.setAttribute("aria-busy", "false");
      document.getElementById("overview-none").hidden = r.cards.length > 0;
      if (fresh) {
        loaded = true;
        subscribe(r.cards);
        const first = [...cards.values()].find((x) => x.card.map);
        await Promise.all([...cards.values()].map(loadLayer));
        if (first) showOnMap(first.card.id);
      } else {
        cards.forEach((entry) => entry.shown && loadLayer(entry));
      }
    } catch (err) {
      show(errorEl, t("overview.load_error", { detail: err.detail || err.message }));
    }
  }

  const pending = new Map();
  function reload(id) {
    if (!cards.has(id)) return;
    clearTimeout(pending.get(id));
    // Several events in a burst (a station's batch) are one fetch.
    pending.set(
      id,
      setTimeout(async () => {
        const entry = cards.get(id);
        try {
          fill(entry, await api(cardUrl(id)));
          if (entry.card.map) loadLayer(entry);
        } catch (err) {
          show(entry.li.querySelector(".card-error"), t("overview.card_error", { detail: err.detail || err.message }));
        }
      }, 250)
    );
  }

  function subscribe(list) {
    if (!page.public && OC.can("alerts:read")) {
      const byType = {};
      list.forEach((c) => c.events.forEach((type) => (byType[type] = byType[type] || []).push(c.id)));
      Object.keys(byType).forEach((type) => OC.live.on(type, () => byType[type].forEach(reload)));
      OC.live.on("connected", () => loaded && loadAll());
      OC.live.start();
    } else {
      publicStream();
    }
  }

  /* The public stream says only which card changed; it drives the same freshness badges. */
  function publicStream() {
    const es = new EventSource(page.stream);
    let first = true;
    es.addEventListener("hello", () => {
      OC.live.connected = true;
      if (!first) loadAll();
      first = false;
      cards.forEach((x) => x.fresh.render());
    });
    es.addEventListener("card", (ev) => {
      try {
        reload(JSON.parse(ev.data).card);
      } catch (_) {
        /* a malformed notice changes nothing */
      }
    });
    es.onerror = () => {
      OC.live.connected = false;
      cards.forEach((x) => x.fresh.render());
      if (es.readyState === EventSource.CLOSED) setTimeout(publicStream, 15000);
    };
  }

  /* --- the more-info dialog: history and downloads --------------------------------------- */
  const dialog = document.getElementById("overview-dialog");
  const table = document.getElementById("overview-history");
  const histMsg = document.getElementById("overview-history-msg");

  async function openDialog(id) {
    const card = cards.get(id).card;
    document.getElementById("overview-dialog-h").textContent = t(card.title);
    const meta = document.getElementById("overview-dialog-meta");
    meta.replaceChildren(
      el("a", { href: card.source.link, text: t("overview.source", { source: t(card.source.text) }) }),
      el("br"),
      t("overview.live_means", { what: t(card.freshness.live) }),
      card.freshness.as_of ? el("br") : null,
      card.freshness.as_of ? t("fresh.updated", { time: OC.dateTime(card.freshness.as_of) }) : null
    );
    const csv = document.getElementById("overview-dl-csv");
    csv.href = card.links.csv;
    const geo = document.getElementById("overview-dl-geojson");
    geo.hidden = !card.links.geojson;
    if (card.links.geojson) geo.href = card.links.geojson;
    table.tHead.replaceChildren();
    table.tBodies[0].replaceChildren();
    histMsg.textContent = t("overview.history_loading");
    histMsg.hidden = false;
    dialog.dataset.card = id;
    if (!dialog.open) dialog.showModal();
    try {
      const h = await api(card.links.history);
      if (dialog.dataset.card !== id) return;
      table.tHead.append(el("tr", {}, h.columns.map((c) => el("th", { scope: "col", text: t(c.label) }))));
      table.tBodies[0].append(
        ...h.rows
          .slice()
          .reverse()
          .map((row) => el("tr", {}, row.map((v, i) => el("td", { class: "unit-" + h.columns[i].unit }, label(v, h.columns[i].unit)))))
      );
      histMsg.hidden = h.rows.length > 0;
      histMsg.textContent = h.rows.length ? "" : t("overview.history_empty");
    } catch (err) {
      histMsg.textContent = t("overview.load_error", { detail: err.detail || err.message });
    }
  }
  dialog.addEventListener("click", (ev) => {
    if (ev.target === dialog) dialog.close(); // a click on the backdrop
  });

  loadAll();
  setInterval(loadAll, REFRESH_MS);
})();
