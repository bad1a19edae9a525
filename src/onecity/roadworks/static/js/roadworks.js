/* Road works pages, shared: the colour and name of each purpose, the city's today and
   tomorrow, a city map (district outlines, no internet tiles needed), and the works drawn on it
   as their footprint plus a dot that stays visible at city zoom. Builds on core.js (OC). */
(function () {
  "use strict";
  const { cfg, t, el } = OC;
  const R = (window.OCR = {});

  R.PURPOSES = ["water", "sewer", "power", "gas", "telecom", "road", "other"];
  R.COLOR = {
    water: "#1f6feb",
    sewer: "#8b5a2b",
    power: "#e8740c",
    gas: "#e3b505",
    telecom: "#8250df",
    road: "#6e7781",
    other: "#0f8b8d",
  };
  R.color = (p) => R.COLOR[p] || R.COLOR.other;
  R.purpose = (p) => t("roadworks.map.purpose." + (R.COLOR[p] ? p : "other"));
  R.status = (s) => (cfg.messages["roadworks.map.status." + s] ? t("roadworks.map.status." + s) : s);
  R.ZH = cfg.lang.toLowerCase().startsWith("zh");
  /* An organisation's name in the page's language. A name that exists in Chinese only (most
     contractors) is shown as the proper name it is (OC.name, lang zh-TW); with no name on
     the books, the code. */
  R.orgName = function (code, zh, en) {
    if (!code) return null;
    if (R.ZH) return zh || en || code;
    if (en && en !== zh) return en;
    return zh ? OC.name(zh) : code;
  };
  R.applicant = (p) => R.orgName(p.applicant, p.applicant_zh, p.applicant_en);
  R.contractor = (p) => (p.contractor ? R.orgName(p.contractor, p.contractor_zh, p.contractor_en) : null);
  /* Nodes and strings joined by a separator, for a line of text that may hold proper names. */
  R.joined = (parts, sep) => parts.filter(Boolean).flatMap((x, i) => (i ? [sep || " · ", x] : [x]));
  /* Free text from the books (a description, a road, working hours): in the data's language. */
  R.text = (v) => (v ? (R.ZH ? String(v) : OC.name(v)) : null);
  /* A stored note or finding's reason in the page's language. */
  R.local = (zhEn) => (zhEn ? (R.ZH ? zhEn["zh-TW"] || zhEn.en : zhEn.en || zhEn["zh-TW"]) : "");

  /* The live event stream: every logged-in role may open it, but its events go only to those
     who read alerts (STREAM_PERM); a contractor's pages also reload on a timer. */
  R.STREAM_PERM = "alerts:read";
  R.startLive = () => OC.live.start();

  /* The city's calendar day `offset` days from today, as YYYY-MM-DD. */
  const isoDay = new Intl.DateTimeFormat("en-CA", { timeZone: cfg.timezone, year: "numeric", month: "2-digit", day: "2-digit" });
  R.day = function (offset) {
    const d = new Date(isoDay.format(new Date()) + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + (offset || 0));
    return d.toISOString().slice(0, 10);
  };
  // A calendar day with its year and weekday ("2026/12/05 週六", "Sat, 12/05/2026").
  const longDay = new Intl.DateTimeFormat(cfg.lang, { timeZone: "UTC", year: "numeric", month: "2-digit", day: "2-digit", weekday: "short" });
  R.fmtDay = (iso) => longDay.format(new Date(iso + "T00:00:00Z"));
  R.period = (p) => t("roadworks.map.period", { start: OC.date(p.start_date), end: OC.date(p.end_date) });
  /* What and where: "Water works · 復興南路一段" (the road as the proper name it is). */
  R.title = (p) => [t("roadworks.map.works_of", { purpose: R.purpose(p.purpose) }), ...(p.road ? [" · ", R.text(p.road)] : [])];

  R.swatch = (purpose) => el("span", { class: "rw-dot pur-" + purpose, "aria-hidden": "true" });
  R.legend = function (ul) {
    ul.replaceChildren(...R.PURPOSES.map((p) => el("li", { "data-purpose": p }, R.swatch(p), R.purpose(p))));
  };

  /* What a works is, for a popup or a list: what, who, when, why. `extra` adds rows. */
  R.facts = function (p, extra) {
    const row = (label, ...value) => [el("dt", { text: t(label) }), el("dd", {}, ...value)];
    const flags = [p.emergency ? t("roadworks.map.emergency") : null, p.night ? t("roadworks.map.night") : null].filter(Boolean);
    return el(
      "dl",
      {},
      row("roadworks.map.why", R.text(p.description)),
      row("roadworks.map.who", R.applicant(p)),
      R.contractor(p) ? row("roadworks.map.contractor", R.contractor(p)) : null,
      row("roadworks.map.when", R.period(p), p.hours ? el("br") : null, R.text(p.hours)),
      row("roadworks.map.status", R.status(p.status), flags.length ? " · " + flags.join(" · ") : null),
      p.district || p.road ? row("roadworks.map.road", ...R.joined([R.text(p.district), R.text(p.road)], " ")) : null,
      row("roadworks.map.ref", p.ref),
      (p.notes || []).length ? row("roadworks.map.notes", ...R.joined(p.notes.map((n) => el("span", { class: "rw-note note-" + n.severity, "data-code": n.code, text: R.local(n.reason) })), el("br"))) : null,
      ...(extra || [])
    );
  };
  R.popup = (p, extra) =>
    el("div", { class: "popup rw-popup", "data-ref": p.ref }, el("h3", {}, R.swatch(p.purpose), ...R.title(p)), R.facts(p, extra));

  /* A district's name in the page's language when the city serves one (per-language names),
     else its own name, marked as the proper name it is. */
  R.districtName = function (props) {
    const lang = cfg.lang;
    const names = props.names || props.name;
    if (names && typeof names === "object" && names[lang]) return String(names[lang]);
    const own = props["name_" + (R.ZH ? "zh" : "en")] || props["name_" + lang];
    if (own) return String(own);
    const native = props.TNAME || (typeof props.name === "string" ? props.name : null);
    return native ? (R.ZH ? String(native) : OC.name(native, "zh-TW")) : null;
  };

  /* A Leaflet map of the city over its district outlines (and tiles when the city has them). */
  R.cityMap = function (mapEl) {
    const [w, s, e, n] = cfg.city.bounds;
    const map = L.map(mapEl, { minZoom: 10, maxBounds: L.latLngBounds([s - 0.15, w - 0.15], [n + 0.15, e + 0.15]), zoomSnap: 0.5 });
    map.attributionControl.setPrefix(false);
    map.createPane("districts").style.zIndex = 350;
    const labels = map.createPane("labels");
    labels.style.zIndex = 360;
    labels.style.pointerEvents = "none";
    if (cfg.tile_url) L.tileLayer(cfg.tile_url, { maxZoom: 19 }).addTo(map);
    const fit = map.getBoundsZoom(L.latLngBounds([s, w], [n, e]));
    map.setView([cfg.city.center[1], cfg.city.center[0]], Math.min(cfg.city.zoom, fit + 0.5));
    fetch("/api/v1/geo/districts", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.statusText))))
      .then((gj) => {
        const layer = L.geoJSON(gj, {
          pane: "districts",
          interactive: false,
          style: { color: "#3d5a80", weight: 1.2, fillColor: cfg.tile_url ? "#3d5a80" : "#f7f3ea", fillOpacity: cfg.tile_url ? 0.04 : 1 },
        }).addTo(map);
        // District names: without tiles they are the only way to tell where a works is.
        layer.eachLayer((l) => {
          const name = R.districtName(l.feature.properties);
          if (!name) return;
          L.tooltip({ permanent: true, direction: "center", className: "district-label", pane: "labels", interactive: false })
            .setLatLng(l.getBounds().getCenter())
            .setContent(name)
            .addTo(map);
        });
      })
      .catch(() => {}); // decoration: the works still show without the outlines
    return map;
  };

  /* The works as one layer group. `style(p)` may override a works' look; `popup(p)` builds
     its popup. Returns {group, byRef} where byRef maps a permit to its dot. */
  R.drawWorks = function (map, features, style, popup) {
    const group = L.featureGroup();
    const byRef = new Map();
    for (const f of features) {
      const p = f.properties;
      const look = Object.assign({ color: R.color(p.purpose), fillColor: R.color(p.purpose), weight: 2, fillOpacity: 0.55 }, style ? style(p) : {});
      const shape = L.geoJSON(f, { style: () => Object.assign({}, look, { className: "rw-shape" }) });
      const centre = shape.getBounds().getCenter();
      const dot = L.circleMarker(centre, Object.assign({}, look, { radius: 8, color: look.ring || "#ffffff", weight: look.ring ? 3 : 2, fillOpacity: look.dotOpacity || 0.95, className: "rw-works pur-" + p.purpose }));
      const build = () => popup(p);
      shape.bindPopup(build);
      dot.bindPopup(build);
      dot.bindTooltip(el("span", {}, ...R.title(p)), { direction: "top", offset: [0, -8] });
      shape.addTo(group);
      dot.addTo(group);
      byRef.set(p.ref, dot);
    }
    group.addTo(map);
    return { group, byRef };
  };

  /* Take the works (and any popup open on one) off the map before drawing them again. */
  R.clear = function (map, drawn) {
    if (!drawn) return;
    map.closePopup();
    drawn.group.eachLayer((l) => l.closePopup && l.closePopup());
    drawn.group.remove();
  };

  /* Zoom to a works and open its popup (from a list). */
  R.focus = function (map, dot) {
    map.setView(dot.getLatLng(), Math.max(map.getZoom(), 17));
    dot.openPopup();
  };
})();
