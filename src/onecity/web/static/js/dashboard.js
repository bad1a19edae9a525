/* The live city map: district boundaries (no base tiles needed), the devices in view coloured
   by connectivity, and active alerts on the map and in the side panel, kept live by SSE. */
(function () {
  "use strict";
  const { cfg, page, t, el, api, show } = OC;
  const CONN = { online: "#1a7f37", offline: "#cf222e", unknown: "#6e7781" };
  const SEV = { critical: "#cf222e", warning: "#b35900", info: "#0969da" };
  const REFRESH_MS = 30000;

  const [w, s, e, n] = cfg.city.bounds;
  const mapEl = document.getElementById("map");
  const map = L.map(mapEl, {
    minZoom: 10,
    maxBounds: L.latLngBounds([s - 0.15, w - 0.15], [n + 0.15, e + 0.15]),
    zoomSnap: 0.5,
  });
  map.attributionControl.setPrefix(false);
  map.createPane("districts").style.zIndex = 350;
  const labels = map.createPane("labels");
  labels.style.zIndex = 360;
  labels.style.pointerEvents = "none";
  map.createPane("devices").style.zIndex = 420;
  map.createPane("alerts").style.zIndex = 430;
  if (cfg.tile_url) {
    L.tileLayer(cfg.tile_url, { maxZoom: 19 }).addTo(map);
    mapEl.classList.add("has-tiles");
  }
  const escape = (text) => String(text).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
  const credits = cfg.credits || {};
  const boundaryCredit = typeof credits.boundaries === "string" ? credits.boundaries : OC.local(credits.boundaries);
  if (boundaryCredit) map.attributionControl.addAttribution(escape(boundaryCredit));
  if (cfg.tile_url && credits.tiles) map.attributionControl.addAttribution(escape(credits.tiles));
  // The city profile's centre and zoom; on a small screen, zoomed out far enough to show
  // most of the city.
  const fit = map.getBoundsZoom(L.latLngBounds([s, w], [n, e]));
  map.setView([cfg.city.center[1], cfg.city.center[0]], Math.min(cfg.city.zoom, fit + 0.5));

  /* --- districts ------------------------------------------------------------------------ */
  api("/api/v1/geo/districts")
    .then((gj) => {
      const layer = L.geoJSON(gj, {
        pane: "districts",
        interactive: false,
        style: {
          color: "#3d5a80",
          weight: 1.4,
          fillColor: cfg.tile_url ? "#3d5a80" : "#f7f3ea",
          fillOpacity: cfg.tile_url ? 0.04 : 1,
          className: "district",
        },
      }).addTo(map);
      layer.eachLayer((l) => {
        // The district's name in the page's language (the city profile names each district
        // in every language it speaks).
        const props = l.feature.properties;
        const name = (props.names && props.names[cfg.lang]) || OC.name(OC.local(props.names));
        L.tooltip({ permanent: true, direction: "center", className: "district-label", pane: "labels", interactive: false })
          .setLatLng(l.getBounds().getCenter())
          .setContent(name)
          .addTo(map);
      });
      mapEl.dataset.districtCount = String(gj.features.length);
    })
    .catch((err) => show(document.getElementById("map-error"), t("map.districts_error", { detail: err.detail })));

  /* --- the modules' overlays (e.g. today's road works), each one a box in the layer control */
  const overlays = {};
  const layerControl = L.control.layers(null, overlays, { collapsed: false, position: "topright" });
  map.createPane("overlays").style.zIndex = 410;
  (page.layers || []).forEach((spec) => {
    const title = OC.local(spec.title) || spec.id;
    const group = L.layerGroup().addTo(map);
    layerControl.addOverlay(group, title);
    if (Object.keys(overlays).length === 0) layerControl.addTo(map);
    overlays[spec.id] = group;
    api(spec.url)
      .then((gj) => {
        // A works site is metres across: at city zoom each feature is drawn as a dot at its
        // centre, so a layer of small shapes still shows where things are.
        L.geoJSON(gj).eachLayer((l) => {
          const at = l.getBounds ? l.getBounds().getCenter() : l.getLatLng();
          const dot = L.circleMarker(at, { pane: "overlays", radius: 5, color: "#ffffff", weight: 1.5, fillColor: "#8250df", fillOpacity: 0.9 });
          const p = l.feature.properties || {};
          const label = p.title || p.name || p.ref || "";
          if (label) dot.bindTooltip(escape(title + " · " + label));
          dot.addTo(group);
        });
        mapEl.dataset["layer_" + spec.id] = String((gj.features || []).length);
      })
      .catch((err) => show(document.getElementById("map-error"), t("map.layer_error", { layer: title, detail: err.detail })));
  });

  /* --- devices in view ------------------------------------------------------------------ */
  const canvas = L.canvas({ pane: "devices", padding: 0.3 });
  const markers = new Map();
  const devFresh = new OC.Freshness("devices");
  const countLine = document.getElementById("device-count");
  let inFlight = null;

  function style(d) {
    return { renderer: canvas, radius: 6, weight: 1.5, color: "#ffffff", fillColor: CONN[d.connectivity] || CONN.unknown, fillOpacity: 0.95 };
  }

  function popup(d) {
    const conn = d.connectivity in CONN ? d.connectivity : "unknown";
    return el(
      "div",
      { class: "popup" },
      el("h3", {}, OC.name(d.name)),
      el(
        "dl",
        {},
        el("dt", { text: t("map.type") }), el("dd", { text: OC.typeName(d.type) }),
        el("dt", { text: t("map.district") }), el("dd", {}, OC.districtName(d)),
        el("dt", { text: t("device.connectivity") }), el("dd", { class: "conn-" + conn, text: t("conn." + conn) }),
        el("dt", { text: t("map.last_seen") }), el("dd", { text: d.last_seen_at ? OC.dateTime(d.last_seen_at) : t("map.never") })
      ),
      el("a", { href: "/devices/" + encodeURIComponent(d.id), text: t("map.open_device") + " →" })
    );
  }

  function counts() {
    const c = { online: 0, offline: 0, unknown: 0 };
    markers.forEach((m) => (c[m.device.connectivity in c ? m.device.connectivity : "unknown"] += 1));
    for (const k in c) document.getElementById("n-" + k).textContent = String(c[k]);
  }

  function draw(items) {
    const seen = new Set();
    for (const d of items) {
      if (!d.location) continue;
      const [lon, lat] = d.location.coordinates;
      seen.add(d.id);
      let m = markers.get(d.id);
      if (m) {
        m.device = d;
        m.setLatLng([lat, lon]).setStyle(style(d));
      } else {
        m = L.circleMarker([lat, lon], style(d)).addTo(map);
        m.device = d;
        m.bindPopup(() => popup(m.device));
        m.bindTooltip(() => OC.name(m.device.name), { direction: "top", offset: [0, -6] });
        markers.set(d.id, m);
      }
    }
    markers.forEach((m, id) => {
      if (!seen.has(id)) {
        m.remove();
        markers.delete(id);
      } else if (m.device.connectivity === "offline") {
        m.bringToFront(); // a device that went quiet must not hide under its neighbours
      }
    });
    mapEl.dataset.deviceMarkers = String(markers.size);
    counts();
  }

  async function loadDevices() {
    if (inFlight) inFlight.abort();
    const ctrl = (inFlight = new AbortController());
    const b = map.getBounds();
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v)).toFixed(5);
    const bbox = [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90), clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)].join(",");
    const items = [];
    let cursor = null, total = 0, asOf = null, pages = 0;
    try {
      do {
        const q = new URLSearchParams({ bbox: bbox, limit: String(page.page_size) });
        if (cursor) q.set("cursor", cursor);
        const r = await api("/api/v1/devices?" + q, { signal: ctrl.signal });
        items.push(...r.items);
        if (r.total != null) total = r.total; // counted on the first page only
        asOf = asOf || r.as_of;
        cursor = r.next_cursor;
        pages += 1;
      } while (cursor && pages < page.max_pages);
    } catch (err) {
      if (err.name === "AbortError") return;
      show(document.getElementById("map-error"), t("map.load_error", { detail: err.detail }));
      return;
    }
    show(document.getElementById("map-error"), "");
    draw(items);
    const capped = items.length < total;
    countLine.textContent = capped ? t("map.showing", { n: items.length, total: total }) : t("map.count", { n: items.length });
    countLine.classList.toggle("capped", capped);
    devFresh.mark(asOf);
  }
  map.on("moveend", OC.debounce(loadDevices, 300));

  function setConnectivity(ev, value) {
    const m = markers.get(ev.payload.device_id);
    if (!m) return;
    m.device = { ...m.device, connectivity: value };
    m.setStyle(style(m.device));
    if (value === "offline") m.bringToFront();
    counts();
    devFresh.mark(ev.at);
  }
  OC.live.on("device.online", (ev) => setConnectivity(ev, "online"));
  OC.live.on("device.offline", (ev) => setConnectivity(ev, "offline"));

  /* --- active alerts ----------------------------------------------------------------------- */
  const svg = L.svg({ pane: "alerts" });
  const alertLayer = L.layerGroup().addTo(map);
  const alertFresh = new OC.Freshness("alerts");
  const list = document.getElementById("alert-list");
  const alertMarkers = new Map();
  const firstSeen = new Map();
  const NEW_MS = 60000;
  let loaded = false;

  function locate(a) {
    const [lon, lat] = a.location.coordinates;
    map.setView([lat, lon], Math.max(map.getZoom(), 15));
    const m = alertMarkers.get(a.id);
    if (m) m.openPopup();
  }

  function renderAlerts(items) {
    // Alerts that arrived while the page was open stay highlighted for a while.
    const now = Date.now();
    for (const a of items) if (!firstSeen.has(a.id)) firstSeen.set(a.id, loaded ? now : 0);
    loaded = true;
    list.replaceChildren(
      ...items.map((a) => {
        const li = OC.alertItem(a, { onLocate: locate });
        if (now - firstSeen.get(a.id) < NEW_MS) li.classList.add("is-new");
        return li;
      })
    );
    document.getElementById("alert-count").textContent = "(" + items.length + ")";
    document.getElementById("alerts-empty").hidden = items.length > 0;
    // Update the rings in place, so an open popup survives other alerts coming and going.
    const ids = new Set();
    for (const a of items) {
      if (!a.location) continue;
      ids.add(a.id);
      const [lon, lat] = a.location.coordinates;
      let m = alertMarkers.get(a.id);
      if (m && m.alert.state !== a.state) {
        m.remove();
        m = null;
      }
      if (!m) {
        m = L.circleMarker([lat, lon], {
          renderer: svg, radius: a.severity === "critical" ? 15 : 12, weight: 3, color: SEV[a.severity] || SEV.info,
          fill: true, fillOpacity: 0, dashArray: a.state === "acknowledged" ? "4 4" : null,
          className: "alert-ring sev-" + a.severity + " state-" + a.state,
        });
        m.bindPopup(() => el("div", { class: "popup" }, OC.alertItem(m.alert)));
        m.addTo(alertLayer);
        alertMarkers.set(a.id, m);
      }
      m.alert = a;
    }
    alertMarkers.forEach((m, id) => {
      if (!ids.has(id)) {
        m.remove();
        alertMarkers.delete(id);
      }
    });
  }

  // A role that may not read alerts (a contractor) gets the map without the alerts panel.
  const readsAlerts = OC.can("alerts:read");
  if (!readsAlerts) document.querySelector(".alerts-panel").hidden = true;

  async function loadAlerts() {
    if (!readsAlerts) return;
    try {
      const r = await api("/api/v1/alerts?state=active&limit=200");
      renderAlerts(r.items);
      show(document.getElementById("alerts-error"), "");
      alertFresh.mark(r.as_of);
    } catch (err) {
      show(document.getElementById("alerts-error"), t("err.generic", { detail: err.detail }));
    }
  }
  const reloadAlerts = OC.debounce(loadAlerts, 250);
  ["alert.opened", "alert.acknowledged", "alert.resolved"].forEach((type) => OC.live.on(type, reloadAlerts));

  OC.live.on("connected", () => {
    loadAlerts();
    loadDevices();
  });
  setInterval(() => {
    loadAlerts();
    loadDevices();
  }, REFRESH_MS);
  loadDevices();
  loadAlerts();
  OC.live.start();
})();
