/* The citizens' station finder (no login): a map of the iTrash stations over the district
   outlines (no internet tiles needed) and a list, nearest first when the citizen shares their
   position; per compartment what it takes and whether it takes it now. Reloaded every 20 s.
   "Report a problem" files an Open311 request, offered only when the city serves the codes. */
(function () {
  "use strict";
  const { cfg, t, el, show } = OC;
  const W = window.OCW;
  const REFRESH_MS = 20000;
  const CODES = { full: "waste.station_full", broken: "waste.station_broken" };
  const COLOR = { open: "#1a7f37", partly: "#b35900", closed: "#cf222e", unknown: "#6e7781" };

  const list = document.getElementById("station-list");
  const errorLine = document.getElementById("finder-error");
  const near = document.getElementById("finder-near");
  const mapEl = document.getElementById("finder-map");
  const articles = new Map(); // station id -> its list item, kept so an open report form survives reloads
  const markers = new Map();
  let stations = [];
  let here = null; // {lat, lon}
  let services = null; // service code -> its definition (with attributes), when the city offers them

  const one = new Intl.NumberFormat(cfg.lang, { maximumFractionDigits: 1 });
  const hhmm = (v) => OC.time(v).slice(0, 5);

  /* --- the map --------------------------------------------------------------------------- */
  const map = W.cityMap(mapEl);
  let youMarker = null;

  /* --- what a station is ----------------------------------------------------------------- */
  function overall(st) {
    const states = st.compartments.map((c) => c.state);
    if (states.every((x) => x === "unknown")) return "unknown";
    if (states.every((x) => x === "open")) return "open";
    return states.some((x) => x === "open") ? "partly" : "closed";
  }

  function distanceTo(st) {
    if (!here || st.lat == null || st.lon == null) return null;
    const r = Math.PI / 180;
    const a = Math.sin(((st.lat - here.lat) * r) / 2) ** 2 + Math.cos(here.lat * r) * Math.cos(st.lat * r) * Math.sin(((st.lon - here.lon) * r) / 2) ** 2;
    return 2 * 6371000 * Math.asin(Math.sqrt(a));
  }
  const away = (m) => (m < 1000 ? t("waste.jobs.m", { m: Math.round(m / 10) * 10 }) : t("waste.jobs.km", { km: one.format(m / 1000) }));

  function when(c) {
    if (c.state !== "full") return null;
    if (c.being_emptied) return t("waste.finder.being_emptied");
    if (!c.back_by) return null;
    return OC.parseTime(c.back_by) > new Date() ? t("waste.finder.back_by", { time: hhmm(c.back_by) }) : t("waste.finder.back_soon");
  }

  function compartmentRow(c) {
    const extra = when(c);
    return el(
      "li",
      { class: "comp comp-" + c.state, "data-compartment": c.compartment, "data-state": c.state },
      el("span", { class: "comp-name", text: t("waste.finder.accepts." + c.accepts) }),
      el("span", { class: "comp-state" }, el("span", { class: "comp-dot", "aria-hidden": "true" }), t("waste.finder.state." + c.state)),
      extra ? el("span", { class: "comp-when", text: extra }) : null
    );
  }

  function article(st) {
    let li = articles.get(st.id);
    if (!li) {
      li = el(
        "li",
        { class: "station", "data-station": st.id },
        el("h2", { class: "station-title" }, OC.name(st.name)),
        el("p", { class: "station-where" }),
        el("ul", { class: "comps" }),
        reportBlock(st)
      );
      articles.set(st.id, li);
    }
    li.dataset.overall = overall(st);
    const d = distanceTo(st);
    const where = st.district ? [OC.districtName(st)] : [];
    if (d != null) where.push((where.length ? " · " : "") + t("waste.finder.away", { d: away(d) }));
    li.querySelector(".station-where").replaceChildren(...where);
    li.querySelector(".comps").replaceChildren(...st.compartments.map(compartmentRow));
    return li;
  }

  function render() {
    const order = stations.slice();
    if (here) order.sort((a, b) => (distanceTo(a) ?? Infinity) - (distanceTo(b) ?? Infinity));
    const ids = new Set(order.map((st) => st.id));
    articles.forEach((li, id) => {
      if (!ids.has(id)) {
        li.remove();
        articles.delete(id);
      }
    });
    list.append(...order.map(article)); // moving a node keeps a report form's contents
    document.getElementById("finder-empty").hidden = order.length > 0;
    document.getElementById("finder-count").textContent = "(" + order.length + ")";
    drawMarkers();
  }

  function popup(st) {
    return el(
      "div",
      { class: "popup" },
      el("h3", {}, OC.name(st.name)),
      el("ul", { class: "comps" }, st.compartments.map(compartmentRow))
    );
  }

  function drawMarkers() {
    const seen = new Set();
    for (const st of stations) {
      if (st.lat == null || st.lon == null) continue;
      seen.add(st.id);
      const style = { radius: 9, weight: 2, color: "#ffffff", fillColor: COLOR[overall(st)], fillOpacity: 0.95 };
      let m = markers.get(st.id);
      if (!m) {
        m = L.circleMarker([st.lat, st.lon], style).addTo(map);
        m.bindPopup(() => popup(m.station));
        m.bindTooltip(() => m.station.name, { direction: "top", offset: [0, -8] });
        markers.set(st.id, m);
      }
      m.station = st;
      m.setLatLng([st.lat, st.lon]).setStyle(style);
    }
    markers.forEach((m, id) => {
      if (!seen.has(id)) {
        m.remove();
        markers.delete(id);
      }
    });
    mapEl.dataset.markers = String(markers.size);
  }

  async function load() {
    try {
      const r = await fetch("/api/v1/waste/public/stations", { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!r.ok) throw new Error(r.statusText || String(r.status));
      const body = await r.json();
      stations = body.stations;
      render();
      document.getElementById("finder-updated").textContent = t("waste.finder.updated", { time: OC.time(body.as_of) });
      show(errorLine, "");
    } catch (err) {
      show(errorLine, t("err.generic", { detail: err.message }));
    }
  }

  /* --- report a problem (Open311) -------------------------------------------------------- */
  function reportBlock(st) {
    const box = el("details", { class: "report", hidden: !services });
    box.append(el("summary", { class: "btn btn-quiet report-open", text: t("waste.finder.report") }));
    box.addEventListener("toggle", () => {
      if (box.open && !box.querySelector("form")) box.append(reportForm(st));
    });
    return box;
  }

  // A photo at most 1600 px on its longer side, as JPEG: a few hundred kB instead of 5 MB.
  async function shrink(file) {
    let img;
    try {
      img = await createImageBitmap(file);
    } catch {
      return file; // a format this browser cannot draw: sent as it is, the server decides
    }
    const scale = Math.min(1, 1600 / Math.max(img.width, img.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(img.width * scale);
    canvas.height = Math.round(img.height * scale);
    canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
    return await new Promise((done) => canvas.toBlob(done, "image/jpeg", 0.85));
  }

  function choices(code, attr) {
    const a = ((services[code] && services[code].attributes) || []).find((x) => x.code === attr);
    return a ? a.values.map((v) => el("option", { value: v.key, text: v.name })) : [];
  }

  function reportForm(st) {
    const id = (x) => "r-" + x + "-" + st.id;
    const kind = el(
      "select",
      { id: id("kind"), name: "service_code" },
      Object.values(CODES).map((c) => el("option", { value: c, text: services[c].service_name }))
    );
    const problem = el("select", { id: id("problem"), name: "problem" }, choices(CODES.broken, "problem"));
    const problemRow = el("p", { class: "field" }, el("label", { for: id("problem"), text: services[CODES.broken].attributes.find((a) => a.code === "problem")?.description || "" }), problem);
    const comp = el("select", { id: id("compartment"), name: "compartment" }, choices(CODES.full, "compartment"));
    const text = el("textarea", { id: id("text"), name: "description", rows: "2", maxlength: "4000" });
    const photo = el("input", { id: id("photo"), name: "media", type: "file", accept: "image/*", capture: "environment" });
    const out = el("p", { class: "report-out", role: "status" });
    const send = el("button", { type: "submit", class: "btn big", text: t("waste.finder.report_send") });
    const sync = () => (problemRow.hidden = kind.value !== CODES.broken);
    kind.addEventListener("change", sync);
    const form = el(
      "form",
      { class: "report-form", novalidate: true },
      el("p", { class: "field" }, el("label", { for: id("kind"), text: t("waste.finder.report_kind") }), kind),
      problemRow,
      el("p", { class: "field" }, el("label", { for: id("compartment"), text: t("waste.finder.report_where") }), comp),
      el("p", { class: "field" }, el("label", { for: id("text"), text: t("waste.finder.report_what") }), text),
      el("p", { class: "field" }, el("label", { for: id("photo"), text: t("waste.finder.report_photo") }), photo),
      send,
      out
    );
    sync();
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const attribute = { station_id: st.id, compartment: comp.value };
      if (kind.value === CODES.broken) attribute.problem = problem.value;
      send.disabled = true;
      try {
        const fields = { service_code: kind.value, lat: st.lat, long: st.lon, description: text.value.trim(), attribute };
        const file = photo.files && photo.files[0];
        let payload;
        let headers = { Accept: "application/json" };
        if (file) {
          // A form with the photo, as the Open311 spec files one; shrunk first, because a
          // phone's full-size photo is over the server's 3 MB limit.
          payload = new FormData();
          for (const [k, v] of Object.entries(fields)) if (k !== "attribute") payload.append(k, String(v));
          for (const [k, v] of Object.entries(attribute)) payload.append("attribute[" + k + "]", v);
          payload.append("media", await shrink(file), "photo.jpg");
        } else {
          payload = JSON.stringify(fields);
          headers = { "Content-Type": "application/json", Accept: "application/json" };
        }
        const r = await fetch("/open311/v2/requests.json?locale=" + encodeURIComponent(cfg.lang), {
          method: "POST",
          credentials: "same-origin",
          headers,
          body: payload,
        });
        const body = await r.json().catch(() => null);
        if (!r.ok) throw new Error((body && body[0] && body[0].description) || r.statusText);
        out.className = "report-out ok";
        out.textContent = t("waste.finder.report_sent", { id: body[0].service_request_id, notice: body[0].service_notice || "" });
        text.value = "";
        photo.value = "";
      } catch (err) {
        out.className = "report-out error";
        out.textContent = t("waste.finder.report_failed", { detail: err.message });
      } finally {
        send.disabled = false;
      }
    });
    return form;
  }

  /* The codes come from the waste module; a city without them gets no report link. */
  async function loadServices() {
    try {
      const q = "?locale=" + encodeURIComponent(cfg.lang);
      const r = await fetch("/open311/v2/services.json" + q, { headers: { Accept: "application/json" } });
      const all = r.ok ? await r.json() : [];
      const codes = new Set(all.map((x) => x.service_code));
      if (!Object.values(CODES).every((c) => codes.has(c))) return;
      const found = {};
      for (const c of Object.values(CODES)) {
        const d = await fetch("/open311/v2/services/" + encodeURIComponent(c) + ".json" + q);
        if (!d.ok) return;
        found[c] = { ...all.find((x) => x.service_code === c), attributes: (await d.json()).attributes || [] };
      }
      services = found;
      articles.forEach((li) => (li.querySelector(".report").hidden = false));
    } catch (_) {
      /* no reporting then; the finder itself works */
    }
  }

  /* --- where the citizen is -------------------------------------------------------------- */
  if (navigator.geolocation) {
    navigator.geolocation.getCurrentPosition(
      (p) => {
        here = { lat: p.coords.latitude, lon: p.coords.longitude };
        near.textContent = t("waste.finder.near_on");
        if (youMarker) youMarker.remove();
        youMarker = L.circleMarker([here.lat, here.lon], { radius: 7, weight: 3, color: "#0a58ca", fillColor: "#ffffff", fillOpacity: 1 })
          .bindTooltip(t("waste.finder.you"))
          .addTo(map);
        render();
      },
      () => {
        /* not shared: alphabetical order, no distances */
      },
      { maximumAge: 300000, timeout: 20000 }
    );
  }

  loadServices().then(load);
  setInterval(load, REFRESH_MS);
})();
