/* iTrash pages, shared: money (whole NT$ with thousands separators), weights (kg with two
   decimals), the city's day, and the pieces several pages draw (a transaction row, status
   badges). Builds on core.js (OC). */
(function () {
  "use strict";
  const { cfg, t, el } = OC;
  const W = (window.OCW = {});
  const whole = new Intl.NumberFormat(cfg.lang, { maximumFractionDigits: 0 });
  const two = new Intl.NumberFormat(cfg.lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const MINUS = "\u2212";

  W.int = (n) => whole.format(n);
  /* NT$1,234 (a negative amount as −NT$5). */
  W.ntd = (n) => (n < 0 ? MINUS : "") + "NT$" + whole.format(Math.abs(n));
  /* +NT$3 / −NT$11 / NT$0: a charge or a rebate, from the card's side. */
  W.signed = (n) => (n > 0 ? "+" : n < 0 ? MINUS : "") + "NT$" + whole.format(Math.abs(n));
  W.kg = (grams) => t("unit.kg", { n: two.format(grams / 1000) });
  /* The city's calendar day of an instant (YYYY-MM-DD), whatever the browser's zone. */
  const isoDay = new Intl.DateTimeFormat("en-CA", { timeZone: cfg.timezone, year: "numeric", month: "2-digit", day: "2-digit" });
  W.today = () => isoDay.format(new Date());
  W.dayOf = (v) => isoDay.format(OC.parseTime(v));
  W.kind = (k) => t("waste.kind." + k);
  /* A translated sentence as nodes, with the `names` among its values (a station's or a
     truck's name from the city's data) marked as names in their own language. */
  W.said = (key, vars, names) => {
    const marked = { ...vars };
    for (const k of names) marked[k] = "\u0001" + k + "\u0001";
    return t(key, marked).split("\u0001").map((part, i) => (i % 2 ? OC.name(vars[part]) : part));
  };
  W.cardHref = (id) => "/waste/cards/" + encodeURIComponent(id);
  W.CARD = /^[A-Za-z0-9-]{1,32}$/;

  /* A Leaflet map of the city with its district outlines and no tiles from the internet
     (pages that draw one load the shipped Leaflet first). The outlines are decoration: what
     the page draws on the map still shows without them. */
  W.cityMap = function (mapEl) {
    const [w, s, e, n] = cfg.city.bounds;
    const map = L.map(mapEl, { minZoom: 10, maxBounds: L.latLngBounds([s - 0.15, w - 0.15], [n + 0.15, e + 0.15]), zoomSnap: 0.5 });
    map.attributionControl.setPrefix(false);
    map.createPane("districts").style.zIndex = 350;
    map.setView([cfg.city.center[1], cfg.city.center[0]], Math.min(cfg.city.zoom, map.getBoundsZoom(L.latLngBounds([s, w], [n, e])) + 0.5));
    fetch("/api/v1/geo/districts", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.statusText))))
      .then((gj) =>
        L.geoJSON(gj, {
          pane: "districts",
          interactive: false,
          style: { color: "#3d5a80", weight: 1.2, fillColor: "#f7f3ea", fillOpacity: 1 },
        }).addTo(map)
      )
      .catch(() => {});
    return map;
  };

  W.kindBadge = (k) => el("span", { class: "kind kind-" + k, text: W.kind(k) });
  W.amount = (n) => el("span", { class: "amt " + (n < 0 ? "amt-charge" : n > 0 ? "amt-rebate" : "amt-zero"), text: W.signed(n) });

  /* What was dropped: a weight for garbage, items for recycling, nothing for a top-up. */
  W.what = function (x) {
    if (x.kind === "garbage" && x.grams != null) return el("span", { class: "weight", text: W.kg(x.grams) });
    if (x.kind === "recycle") {
      const count = (m) => x.items.filter((i) => i.material === m).length;
      const kinds = ["pet", "aluminium"].filter((m) => count(m) > 0).map((m) => t("waste.material." + m, { n: count(m) }));
      const parts = [el("span", { text: t("waste.items", { n: x.items.length }) })];
      if (kinds.length) parts.push(" ", el("span", { class: "sub-inline", text: "(" + kinds.join(t("waste.list_sep")) + ")" }));
      if (x.rejected.length) parts.push(el("br"), el("span", { class: "rejected", text: t("waste.rejected", { n: x.rejected.length }) }));
      if (x.points_before !== x.points_after) parts.push(el("br"), el("span", { class: "sub-inline", text: t("waste.points_moved", { from: x.points_before, to: x.points_after }) }));
      return el("span", {}, parts);
    }
    return "–";
  };
  W.balance = (x) => el("span", { class: "bal" }, W.ntd(x.balance_before), el("span", { "aria-hidden": "true", text: " → " }), el("span", { class: "sr-only", text: " " + t("waste.to") + " " }), el("strong", { text: W.ntd(x.balance_after) }));

  /* One transaction as a table row. `cols` names the columns to draw, in order. */
  W.txnRow = function (x, cols, stationName) {
    const cell = (label, cls, ...kids) => el("td", { "data-label": t(label), class: cls || null }, ...kids);
    const time = (v) => el("time", { datetime: v, text: OC.dateTime(v) });
    const make = {
      time: () => cell("waste.col.time", "nowrap", time(x.occurred_at)),
      kind: () => cell("waste.col.kind", null, W.kindBadge(x.kind)),
      station: () =>
        cell("waste.col.station", null, stationName && stationName(x.terminal_id) !== x.terminal_id
          ? [el("span", { class: "station-name", lang: OC.cfg.data_language, text: stationName(x.terminal_id) }), el("br"), el("span", { class: "sub-inline", text: x.terminal_id })]
          : x.terminal_id),
      card: () => cell("waste.col.card", "nowrap", el("a", { href: W.cardHref(x.card_id), text: x.card_id })),
      counter: () => cell("waste.col.counter", "num", W.int(x.card_counter)),
      what: () => cell("waste.col.what", "txn-what", W.what(x)),
      amount: () => cell("waste.col.amount", "num", W.amount(x.amount)),
      balance: () => cell("waste.col.balance", "num nowrap", W.balance(x)),
      batch: () => cell("waste.col.batch", "nowrap", t("waste.batch", { batch: x.batch_no, seq: x.terminal_seq })),
      received: () => cell("waste.col.received", "nowrap", time(x.received_at)),
    };
    return el("tr", { "data-txn-id": x.id, class: "kind-row-" + x.kind }, cols.map((c) => make[c]()));
  };

  W.statusBadges = function (c) {
    const out = [];
    if (c.blocked) out.push(el("span", { class: "status status-blocked", text: t("waste.status.blocked") }));
    if (c.flagged) out.push(el("span", { class: "status status-flagged", text: t("waste.status.flagged") }));
    if (c.registered) out.push(el("span", { class: "status status-registered", text: t("waste.status.registered") }));
    if (!out.length) out.push(el("span", { class: "status status-ok", text: t("waste.status.ok") }));
    return el("span", { class: "statuses" }, out);
  };

  /* A short readable line for a flag: its problem in words, the counter, and when. */
  W.problem = (p) => {
    const key = "waste.problem." + p;
    return cfg.messages[key] ? t(key) : p;
  };

  /* Query-string filters: read once on load, written back without reloading. */
  W.params = () => new URLSearchParams(location.search);
  W.setParams = function (values) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(values)) if (v) q.set(k, v);
    const s = q.toString();
    history.replaceState(null, "", location.pathname + (s ? "?" + s : ""));
  };
})();
