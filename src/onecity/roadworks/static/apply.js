/* Applying for a road works permit: the works outline drawn on a map (a polygon, or a trench
   line with its width), the form, a dry-run check that shows what RPIC's rules will say (clashes,
   bans, notice, fee, the pipe owners who will be asked) and filing, which opens the new permit.
   ?at=lat,lon&z=zoom opens the map at a place. ?amend=RW-… opens an application RPIC sent back
   for changes, filled in as filed, and resubmits it under the same number. Builds on core.js (OC). */
(function () {
  "use strict";
  const { cfg, page, t, el, api, show } = OC;
  const $ = (id) => document.getElementById(id);
  const form = $("apply-form");
  const errorBox = $("apply-error");
  const mapEl = $("apply-map");
  const stateLine = $("draw-state");
  const widthWrap = $("width-wrap");
  let orgs = {};
  let points = []; // L.LatLng, in the order clicked
  let finished = false;
  let pasted = null; // a GeoJSON outline pasted or loaded from a file, as the server read it
  let busy = false;
  const amendRef = new URLSearchParams(location.search).get("amend") || "";

  const local = (zhEn) => (cfg.lang === "en" ? zhEn.en : zhEn["zh-TW"] || zhEn.en);
  /* An organisation's name as text in the page's language (Chinese where it has no other). */
  const orgName = (code) => (orgs[code] ? (cfg.lang === "en" ? orgs[code].name_en || orgs[code].name_zh : orgs[code].name_zh) : code);
  // "NT$" in both languages (zh-TW's own currency format would say a bare "$").
  const ntd = (n) => "NT$" + Number(n).toLocaleString(cfg.lang, { maximumFractionDigits: 0 });
  // The rules call the application being checked "(this application)"; say it in the page's language.
  const ours = (text) => text.split("(this application)").join(t("roadworks.apply.this_application"));
  const shape = () => form.querySelector('input[name="shape"]:checked').value;

  /* --- the map ----------------------------------------------------------------------------- */
  const [w, s, e, n] = cfg.city.bounds;
  const map = L.map(mapEl, { doubleClickZoom: false, maxBounds: L.latLngBounds([s - 0.15, w - 0.15], [n + 0.15, e + 0.15]), zoomSnap: 0.5 });
  map.attributionControl.setPrefix(false);
  map.createPane("districts").style.zIndex = 350;
  if (cfg.tile_url) L.tileLayer(cfg.tile_url, { maxZoom: 20 }).addTo(map);
  L.control.scale({ imperial: false }).addTo(map);
  const at = /^(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)$/.exec(new URLSearchParams(location.search).get("at") || "");
  const zoom = Number(new URLSearchParams(location.search).get("z")) || 0;
  if (at) map.setView([Number(at[1]), Number(at[2])], zoom >= 10 && zoom <= 20 ? zoom : 18);
  else map.setView([cfg.city.center[1], cfg.city.center[0]], cfg.city.zoom);
  api("/api/v1/geo/districts")
    .then((gj) => L.geoJSON(gj, { pane: "districts", interactive: false, style: { color: "#3d5a80", weight: 1.2, fillColor: cfg.tile_url ? "#3d5a80" : "#f7f3ea", fillOpacity: cfg.tile_url ? 0.04 : 1 } }).addTo(map))
    .catch(() => {}); // decoration only
  const booked = L.featureGroup().addTo(map);
  const draft = L.featureGroup().addTo(map);

  /* Works the city already allowed on the road on the chosen start day, in view (the public
     works map's data), so the applicant sees what to avoid or join before drawing. */
  async function loadBooked() {
    const day = $("a-start").value;
    if (map.getZoom() < 15 || !/^\d{4}-\d{2}-\d{2}$/.test(day)) return booked.clearLayers();
    const b = map.getBounds();
    const q = new URLSearchParams({ day: day, bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",") });
    const gj = await api("/api/v1/roadworks/public/works.geojson?" + q).catch(() => null);
    if (!gj) return;
    booked.clearLayers();
    L.geoJSON(gj, {
      interactive: false,
      style: { color: "#cf222e", weight: 2, dashArray: "6 4", fillOpacity: 0.15 },
    }).addTo(booked);
    gj.features.forEach((f) => {
      const b = L.geoJSON(f).getBounds();
      L.tooltip({ permanent: true, direction: "top", className: "rw-ref-label", interactive: false }).setLatLng([b.getNorth(), b.getCenter().lng]).setContent(f.properties.ref).addTo(booked);
    });
    mapEl.dataset.booked = String(gj.features.length);
  }
  map.on("moveend", OC.debounce(loadBooked, 300));

  /* No map tiles offline: from street level, the village boundary lines (they mostly run down
     streets) and the named narrow alleys of the city's open data, to draw against. */
  const refLayer = L.featureGroup().addTo(map);
  map.createPane("reference").style.zIndex = 380;
  async function loadReference() {
    if (map.getZoom() < 15) {
      refLayer.clearLayers();
      mapEl.dataset.reference = "0";
      $("ref-note").hidden = true;
      return;
    }
    const b = map.getBounds();
    const q = new URLSearchParams({ bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",") });
    const gj = await api("/api/v1/roadworks/public/reference.geojson?" + q).catch(() => null);
    if (!gj) return;
    refLayer.clearLayers();
    L.geoJSON(gj, {
      pane: "reference",
      interactive: false,
      filter: (f) => f.properties.kind === "village",
      style: { color: "#57606a", weight: 2, opacity: 0.7 },
    }).addTo(refLayer);
    gj.features
      .filter((f) => f.properties.kind === "alley")
      .forEach((f) => {
        const [lon, lat] = f.geometry.coordinates;
        L.circleMarker([lat, lon], { pane: "reference", radius: 3, color: "#57606a", weight: 1, fillOpacity: 0.8, interactive: false }).addTo(refLayer);
        L.tooltip({ permanent: true, direction: "right", className: "rw-street-label", interactive: false, pane: "reference" })
          .setLatLng([lat, lon])
          .setContent(OC.name(f.properties.name, "zh-TW"))
          .addTo(refLayer);
      });
    mapEl.dataset.reference = String(gj.features.length);
    $("ref-note").hidden = false;
  }
  map.on("moveend", OC.debounce(loadReference, 300));
  loadReference();

  function redraw() {
    draft.clearLayers();
    const style = { color: "#8250df", weight: 3, fillOpacity: 0.3, dashArray: finished ? null : "5 5", interactive: false };
    if (pasted) {
      L.geoJSON(pasted, { style: style }).addTo(draft);
      mapEl.dataset.points = "pasted";
      mapEl.dataset.finished = "true";
      stateLine.textContent = t("roadworks.apply.pasted_state");
      $("draw-finish").disabled = true;
      $("draw-undo").disabled = true;
      $("draw-clear").disabled = false;
      return;
    }
    if (shape() === "polygon" && points.length >= 3) L.polygon(points, style).addTo(draft);
    else if (points.length >= 2) L.polyline(points, style).addTo(draft);
    points.forEach((p) => L.circleMarker(p, { radius: 4, color: "#8250df", fillColor: "#fff", fillOpacity: 1, weight: 2, interactive: false }).addTo(draft));
    mapEl.dataset.points = String(points.length);
    mapEl.dataset.finished = String(finished);
    const need = shape() === "polygon" ? 3 : 2;
    stateLine.textContent = finished
      ? t("roadworks.apply.drawn", { n: points.length })
      : points.length
        ? t("roadworks.apply.drawing", { n: points.length, need: need })
        : t("roadworks.apply.not_drawn");
    $("draw-finish").disabled = finished || points.length < need;
    $("draw-undo").disabled = points.length === 0;
    $("draw-clear").disabled = points.length === 0;
  }

  /* A double click also arrives as two clicks: drop points within a few pixels of the one
     before, so the outline does not end in a zero-length edge. */
  function dedupe() {
    points = points.filter((p, i) => i === 0 || map.latLngToContainerPoint(p).distanceTo(map.latLngToContainerPoint(points[i - 1])) > 4);
  }
  function finish() {
    dedupe();
    if (points.length < (shape() === "polygon" ? 3 : 2)) return redraw();
    finished = true;
    redraw();
    changed();
  }
  map.on("click", (ev) => {
    if (finished || pasted) return;
    points.push(ev.latlng);
    redraw();
  });
  map.on("dblclick", finish);
  $("draw-finish").addEventListener("click", finish);
  $("draw-undo").addEventListener("click", () => {
    finished = false;
    points.pop();
    redraw();
    changed();
  });
  $("draw-clear").addEventListener("click", () => {
    finished = false;
    pasted = null;
    points = [];
    redraw();
    changed();
  });
  form.querySelectorAll('input[name="shape"]').forEach((r) =>
    r.addEventListener("change", () => {
      widthWrap.hidden = shape() !== "line";
      finished = false;
      redraw();
      changed();
    })
  );

  function geometry() {
    if (pasted) return pasted;
    const xy = points.map((p) => [Number(p.lng.toFixed(7)), Number(p.lat.toFixed(7))]);
    if (shape() === "line") return { type: "LineString", coordinates: xy };
    return { type: "Polygon", coordinates: [[...xy, xy[0]]] };
  }

  /* --- an outline pasted or loaded from a file ---------------------------------------------- */
  /* Read what was pasted: a GeoJSON geometry, or a Feature / FeatureCollection of one feature.
     Says what is wrong in the page's language; the server checks the rest (crossing itself,
     outside the city, no area …) and names the problem by a code this page translates. */
  function readPasted(text) {
    let doc;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new Error(t("roadworks.apply.paste_err.json"));
    }
    if (doc && doc.type === "FeatureCollection") {
      if (!Array.isArray(doc.features) || doc.features.length !== 1) throw new Error(t("roadworks.apply.paste_err.one_feature", { n: Array.isArray(doc.features) ? doc.features.length : 0 }));
      doc = doc.features[0];
    }
    if (doc && doc.type === "Feature") doc = doc.geometry;
    if (!doc || typeof doc !== "object" || typeof doc.type !== "string") throw new Error(t("roadworks.apply.paste_err.not_geojson"));
    if (!["Polygon", "MultiPolygon", "LineString"].includes(doc.type)) throw new Error(t("roadworks.apply.paste_err.wrong_type", { type: doc.type }));
    return { type: doc.type, coordinates: doc.coordinates };
  }
  const PASTE_CODES = ["wrong_type", "empty", "too_many_vertices", "bad_coordinates", "not_degrees", "bad_geojson", "self_intersecting", "trench_width", "too_short", "no_area", "too_large", "outside_city"];
  async function usePasted(text) {
    const out = $("paste-msg");
    out.className = "hint";
    show(out, "");
    let geom;
    try {
      geom = readPasted(text);
    } catch (e) {
      out.className = "error";
      return show(out, e.message);
    }
    const req = { geometry: geom };
    if (geom.type === "LineString") req.width_m = Number($("a-width").value) || 1.5;
    try {
      const fp = await api("/api/v1/roadworks/footprints/check", { json: req });
      pasted = geom;
      finished = true;
      points = [];
      const line = geom.type === "LineString";
      form.querySelector('input[name="shape"][value="' + (line ? "line" : "polygon") + '"]').checked = true;
      widthWrap.hidden = !line;
      redraw();
      map.fitBounds(L.geoJSON(geom).getBounds(), { padding: [40, 40], maxZoom: 19 });
      show(out, t("roadworks.apply.paste_ok", { area: OC.num(fp.area_m2) }));
      out.append(" ", OC.name(fp.district || ""));
      changed();
    } catch (err) {
      out.className = "error";
      show(out, PASTE_CODES.includes(err.code) ? t("roadworks.apply.paste_err." + err.code) : t("roadworks.apply.paste_err.other", { detail: err.detail }));
    }
  }
  $("paste-use").addEventListener("click", () => usePasted($("paste-text").value));
  $("paste-file").addEventListener("change", async () => {
    const f = $("paste-file").files[0];
    if (!f) return;
    if (f.size > 1048576) return show($("paste-msg"), t("roadworks.apply.paste_err.too_big"));
    const text = await f.text();
    $("paste-text").value = text;
    usePasted(text);
  });

  /* --- the form ---------------------------------------------------------------------------- */
  const isoDay = new Intl.DateTimeFormat("en-CA", { timeZone: cfg.timezone, year: "numeric", month: "2-digit", day: "2-digit" });
  const plusDays = (d) => isoDay.format(new Date(Date.now() + d * 86400000));
  $("a-start").value = plusDays(30);
  $("a-end").value = plusDays(34);
  $("a-start").addEventListener("change", loadBooked);

  function body() {
    const v = (id) => $(id).value.trim();
    const out = {
      applicant: v("a-applicant"),
      contractor: v("a-contractor") || null,
      purpose: v("a-purpose"),
      description: v("a-description"),
      road: v("a-road") || null,
      road_class: v("a-road-class"),
      geometry: geometry(),
      depth_m: Number(v("a-depth")),
      start_date: v("a-start"),
      end_date: v("a-end"),
      night: $("a-night").checked,
      residential: $("a-residential").checked,
      emergency: $("a-emergency").checked,
      hours: v("a-hours"),
      traffic_plan: v("a-traffic"),
    };
    if (shape() === "line") out.width_m = Number($("a-width").value);
    return out;
  }

  /* What is missing, said in words, before anything is sent. */
  function missing() {
    if (!$("a-applicant").value) return ["a-applicant", t("roadworks.apply.need_applicant")];
    if (!finished) return ["apply-map", t("roadworks.apply.need_outline")];
    if (!$("a-description").value.trim()) return ["a-description", t("roadworks.apply.need_description")];
    if (!(Number($("a-depth").value) > 0)) return ["a-depth", t("roadworks.apply.need_depth")];
    if (!$("a-start").value || !$("a-end").value) return ["a-start", t("roadworks.apply.need_dates")];
    return null;
  }
  const FIELDS = { applicant: "a-applicant", contractor: "a-contractor", description: "a-description", road: "a-road", depth_m: "a-depth", start_date: "a-start", end_date: "a-end", width_m: "a-width", hours: "a-hours", traffic_plan: "a-traffic", geometry: "apply-map" };
  function mark(id) {
    form.querySelectorAll('[aria-invalid="true"]').forEach((x) => x.removeAttribute("aria-invalid"));
    if (id && $(id)) {
      $(id).setAttribute("aria-invalid", "true");
      if ($(id).focus && id !== "apply-map") $(id).focus();
    }
  }

  function changed() {
    $("check-result").hidden = true;
  }
  form.addEventListener("input", changed);

  /* --- check and file ---------------------------------------------------------------------- */
  /* The dry run checks against everything on the books, the permit being amended included, so
     its own filed outline would come back as a clash (and a joint dig with itself). The
     resubmission leaves that permit out of its checks, so the page leaves those findings out. */
  function withoutSelf(c) {
    if (!amendRef) return c;
    const findings = c.findings.filter((f) => !(f.data && f.data.other === amendRef));
    const jd = c.joint_dig;
    const partners = jd ? jd.members.filter((m) => m !== amendRef && !m.startsWith("(")) : [];
    return { ...c, findings: findings, blocked: findings.some((f) => f.severity === "block"), joint_dig: partners.length ? jd : null };
  }
  function renderCheck(c) {
    const verdict = $("check-verdict");
    verdict.className = c.blocked ? "error" : "ok";
    verdict.textContent = c.blocked ? t("roadworks.apply.blocked") : t("roadworks.apply.not_blocked", { date: c.decide_by });
    const dd = (key, text) => [el("dt", { text: t(key) }), el("dd", { text: text })];
    $("check-summary").replaceChildren(
      ...dd("roadworks.permit.f.category", t("roadworks.permit.category." + c.category)),
      ...dd("roadworks.permit.f.decide_by", c.decide_by),
      ...dd("roadworks.apply.area", OC.num(c.area_m2) + " m²" + (c.district ? " · " + c.district : "")),
      ...dd("roadworks.apply.owners", c.locate_owners.length ? c.locate_owners.map(orgName).join(t("roadworks.apply.sep")) : t("roadworks.apply.owners_none"))
    );
    $("check-findings").replaceChildren(
      ...c.findings.map((f) =>
        el("li", { class: "rw-finding sev-" + f.severity, "data-code": f.code }, el("span", { class: "rw-sev", text: t("roadworks.permit.sev." + f.severity) }), el("span", { class: "reason", text: ours(local(f.reason)) }))
      )
    );
    $("check-clear").hidden = c.findings.length > 0;
    $("check-joint").hidden = !c.joint_dig;
    if (c.joint_dig) $("check-joint-body").replaceChildren(el("p", { text: ours(local(c.joint_dig.reason)) }));
    $("check-fee").replaceChildren(...c.fee_lines.map((l) => el("tr", {}, el("td", { text: feeItem(l.item) }), el("td", { text: ntd(l.amount) }))));
    $("check-fee-total").textContent = ntd(c.fee_total);
    $("check-result").hidden = false;
  }
  function feeItem(item) {
    let m = /^road use (\d+) d x NT\$(\d+)$/.exec(item);
    if (m) return t("roadworks.permit.fee_road_use", { days: m[1], rate: m[2] });
    m = /^restoration at NT\$(\d+)\/m²$/.exec(item);
    if (m) return t("roadworks.permit.fee_restoration", { rate: m[1] });
    return item === "base" ? t("roadworks.permit.fee_base") : item;
  }

  async function send(path) {
    if (busy) return null;
    const gap = missing();
    if (gap) {
      mark(gap[0]);
      show(errorBox, gap[1]);
      return null;
    }
    busy = true;
    mark(null);
    show(errorBox, "");
    $("apply-check").disabled = $("apply-file").disabled = true;
    try {
      return await api(path, { json: body() });
    } catch (err) {
      const f = err.field ? String(err.field).split(".")[0] : null;
      mark(FIELDS[f] || null);
      show(errorBox, t("roadworks.apply.failed", { detail: err.detail }));
      return null;
    } finally {
      busy = false;
      $("apply-check").disabled = $("apply-file").disabled = false;
    }
  }
  $("apply-check").addEventListener("click", async () => {
    const c = await send("/api/v1/roadworks/permits/check");
    if (c) renderCheck(withoutSelf(c));
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (amendRef) {
      const p = await send("/api/v1/roadworks/permits/" + encodeURIComponent(amendRef) + "/resubmit");
      if (p) location.assign("/roadworks/permits/" + encodeURIComponent(p.ref) + "?resubmitted=1");
      return;
    }
    const p = await send("/api/v1/roadworks/permits");
    if (p) location.assign("/roadworks/permits/" + encodeURIComponent(p.ref) + "?filed=1");
  });

  /* --- whom this user files for ------------------------------------------------------------ */
  async function loadOrgs() {
    try {
      const list = await api("/api/v1/roadworks/orgs");
      orgs = Object.fromEntries(list.map((o) => [o.code, o]));
      const opt = (o) => el("option", { value: o.code, text: orgName(o.code) });
      const mine = list.filter((o) => o.members.includes(page.username));
      $("a-applicant").replaceChildren(...mine.map(opt));
      $("a-contractor").append(...list.filter((o) => o.kind === "contractor" && !o.barred_until).map(opt));
      $("apply-no-org").hidden = mine.length > 0;
      const utility = mine.find((o) => o.utility_kind);
      if (utility && $("a-purpose").querySelector('option[value="' + utility.utility_kind + '"]')) $("a-purpose").value = utility.utility_kind;
    } catch (err) {
      show(errorBox, t("err.generic", { detail: err.detail }));
    }
  }
  /* --- amending an application RPIC sent back for changes ---------------------------------- */
  const pick = (id, code, name) => {
    if (code && !$(id).querySelector('option[value="' + CSS.escape(code) + '"]')) $(id).append(el("option", { value: code, text: name }));
    $(id).value = code || "";
  };
  function fillFrom(p) {
    pick("a-applicant", p.applicant, p.applicant_name);
    pick("a-contractor", p.contractor, orgName(p.contractor));
    const set = { "a-purpose": p.purpose, "a-road-class": p.road_class, "a-description": p.description, "a-road": p.road || "", "a-depth": p.depth_m, "a-start": p.start_date, "a-end": p.end_date, "a-hours": p.hours, "a-traffic": p.traffic_plan || "" };
    Object.entries(set).forEach(([id, v]) => ($(id).value = String(v)));
    ["night", "residential", "emergency"].forEach((k) => ($("a-" + k).checked = !!p[k]));
    // The outline was stored as a polygon (a trench line is widened when filed); a multi-part
    // outline is offered as its first part, since the drawing tool draws one.
    form.querySelector('input[name="shape"][value="polygon"]').checked = true;
    widthWrap.hidden = true;
    const ring = p.geometry.type === "MultiPolygon" ? p.geometry.coordinates[0][0] : p.geometry.coordinates[0];
    points = ring.slice(0, -1).map(([x, y]) => L.latLng(y, x));
    finished = true;
    const filed = L.geoJSON(p.geometry, { interactive: false, style: { color: "#0a58ca", weight: 2, dashArray: "4 6", fillOpacity: 0.08 } }).addTo(map);
    filed.bringToBack();
    $("legend-filed").hidden = false;
    if (!at) map.fitBounds(filed.getBounds(), { padding: [40, 40], maxZoom: 20 });
    redraw();
  }
  async function loadAmend() {
    $("apply-h").textContent = t("roadworks.amend.title", { ref: amendRef });
    $("apply-file").textContent = t("roadworks.amend.resubmit");
    document.querySelector(".apply-page .lead").textContent = t("roadworks.amend.lead", { clear: t("roadworks.apply.clear"), check: t("roadworks.apply.check"), resubmit: t("roadworks.amend.resubmit") });
    let p;
    try {
      p = await api("/api/v1/roadworks/permits/" + encodeURIComponent(amendRef));
    } catch (err) {
      show($("amend-closed"), err.status === 404 ? t("roadworks.permit.not_found", { ref: amendRef }) : t("err.generic", { detail: err.detail }));
      $("apply-check").disabled = $("apply-file").disabled = true;
      return;
    }
    fillFrom(p);
    $("a-applicant").disabled = true;
    $("applicant-hint").hidden = false;
    $("a-emergency").disabled = true; // emergency works are filed as new works
    const asked = p.steps.filter((st) => st.step === "changes_requested").pop();
    if (p.status !== "changes_requested") {
      show($("amend-closed"), t("roadworks.amend.not_open", { ref: p.ref, status: t("roadworks.permit.status." + p.status) }));
      $("apply-check").disabled = $("apply-file").disabled = true;
      return;
    }
    $("amend-ref").textContent = t("roadworks.amend.banner", { ref: p.ref });
    $("amend-note").textContent = asked && asked.note ? asked.note : t("roadworks.amend.no_note");
    $("amend-by").textContent = asked ? t("roadworks.amend.asked_by", { who: asked.actor, at: OC.dateTime(asked.at) }) : "";
    $("amend-banner").hidden = false;
    loadBooked();
  }
  redraw();
  loadOrgs().then(() => amendRef && loadAmend());
  loadBooked();
})();
