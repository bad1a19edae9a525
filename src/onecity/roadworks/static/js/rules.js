/* RPIC's rules for digging: dig bans on resurfaced roads (on the map when they have a shape),
   embargo periods (city-wide or in an area) and the versioned fee table. An assessor adds a
   ban, an embargo or a new fee version; the API checks each and its refusal is shown as it
   says it. Tapping the map traces a road for a ban or an area for an embargo. Builds on
   core.js (OC) and roadworks.js (OCR). */
(function () {
  "use strict";
  const { cfg, t, el, api, show } = OC;
  const R = window.OCR;
  const API = "/api/v1/roadworks";
  const CLASSES = ["narrow", "wide", "congested"];
  const $ = (id) => document.getElementById(id);
  const mapEl = $("ru-map");
  const map = R.cityMap(mapEl);
  const shapes = L.featureGroup().addTo(map);
  const draftLine = L.polyline([], { color: "#8250df", weight: 4, dashArray: "6 4", className: "reg-draft" }).addTo(map);
  const draft = [];
  let fees = [];
  let fitted = false;

  const money = (n) => "NT$" + Number(n).toLocaleString(cfg.lang);
  const today = () => R.day(0);
  const dayAfter = (iso) => {
    const d = new Date(iso + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString().slice(0, 10);
  };
  const cell = (label, cls, ...kids) => el("td", { "data-label": t("roadworks.rules.col." + label), class: cls || null }, ...kids);
  const showOn = (layer) => () => {
    map.fitBounds(layer.getBounds(), { maxZoom: 17, padding: [20, 20] });
    layer.openPopup();
    mapEl.scrollIntoView({ block: "nearest", behavior: "smooth" });
  };

  /* A refusal from the API, as it says it, with the field it names marked. */
  function refused(form, box, err) {
    show(box, t("roadworks.rules.refused_write", { detail: err.detail }));
    const bad = err.field && form.querySelector('[name="' + err.field + '"]');
    if (bad) {
      bad.setAttribute("aria-invalid", "true");
      bad.focus();
    }
  }
  async function submit(form, key, send) {
    const box = $(key + "-error");
    const ok = $(key + "-done");
    const btn = $(key + "-submit");
    form.querySelectorAll("[aria-invalid]").forEach((x) => x.removeAttribute("aria-invalid"));
    show(ok, "");
    btn.disabled = true;
    try {
      show(ok, await send());
      show(box, "");
    } catch (err) {
      refused(form, box, err);
    } finally {
      btn.disabled = false;
    }
  }

  // --- dig bans and embargoes ----------------------------------------------------------------

  function banRow(b, layer) {
    const live = b.until > today();
    return el(
      "tr",
      { "data-ban": b.id, class: live ? null : "is-past" },
      cell("road", "wide", el("strong", {}, R.text(b.road))),
      cell("paved", "nowrap", OC.date(b.paved_on)),
      cell("years", "num", String(b.years)),
      cell("until", "nowrap", el("span", { class: live ? "reg-ban-live" : "sub", text: live ? t("roadworks.rules.until_live", { date: OC.date(b.until) }) : t("roadworks.rules.until_past", { date: OC.date(b.until) }) })),
      cell("note", null, b.note ? R.text(b.note) : "–"),
      cell("where", null, layer ? el("button", { type: "button", class: "link-btn", onclick: showOn(layer), text: t("roadworks.rules.show") }) : el("span", { class: "sub", text: t("roadworks.rules.by_name") }))
    );
  }

  const kindName = (k) => t("roadworks.rules.kind." + k);
  const embName = (e) => (cfg.lang === "en" ? e.name_en : e.name_zh);

  function embRow(e, layer) {
    const past = e.end_date < today();
    const where = e.area
      ? el("button", { type: "button", class: "link-btn", onclick: showOn(layer), text: t("roadworks.rules.area_show") })
      : el("span", { class: "reg-citywide", text: t("roadworks.rules.citywide") });
    return el(
      "tr",
      { "data-embargo": e.id, class: past ? "is-past" : null },
      cell("name", "wide", el("strong", { text: embName(e) }), el("br"), el("span", { class: "sub" }, cfg.lang === "en" ? OC.name(e.name_zh, "zh-TW") : OC.name(e.name_en, "en"))),
      cell("kind", null, kindName(e.kind)),
      cell("dates", "nowrap", e.start_date === e.end_date ? OC.date(e.start_date) : OC.date(e.start_date) + " – " + OC.date(e.end_date)),
      cell("area", null, where)
    );
  }

  function drawn(geometry, cls, popupText) {
    if (!geometry) return null;
    const layer = L.geoJSON(geometry, { style: () => ({ className: cls, weight: 2 }) });
    layer.bindPopup(() => el("div", { class: "popup" }, el("strong", {}, popupText)));
    layer.addTo(shapes);
    return layer;
  }

  async function loadBooks() {
    try {
      const [bans, embs] = await Promise.all([api(API + "/dig-bans"), api(API + "/embargoes")]);
      map.closePopup();
      shapes.clearLayers();
      const banRows = bans.map((b) => banRow(b, drawn(b.geometry, "reg-ban", [t("roadworks.rules.ban_popup", { date: OC.date(b.until) }), " ", R.text(b.road)])));
      const embRows = embs.map((e) => embRow(e, drawn(e.area, "reg-emb", embName(e) + " · " + OC.date(e.start_date) + " – " + OC.date(e.end_date))));
      $("bans-body").replaceChildren(...banRows);
      $("emb-body").replaceChildren(...embRows);
      $("bans-none").hidden = bans.length > 0;
      $("emb-none").hidden = embs.length > 0;
      $("bans-count").textContent = "(" + bans.length + ")";
      $("emb-count").textContent = "(" + embs.length + ")";
      mapEl.dataset.bans = String(bans.filter((b) => b.geometry).length);
      mapEl.dataset.areas = String(embs.filter((e) => e.area).length);
      if (!fitted && shapes.getLayers().length) {
        map.fitBounds(shapes.getBounds(), { maxZoom: 16, padding: [20, 20] });
        fitted = true;
      }
      show($("ru-error"), "");
    } catch (err) {
      show($("ru-error"), t("err.generic", { detail: err.detail }));
    }
  }

  /* The shape being traced: a road's centreline for a ban, or (3 points or more) an area. */
  function redraw() {
    draftLine.setLatLngs(draft);
    mapEl.dataset.points = String(draft.length);
    const state = $("draw-state");
    if (state) state.textContent = draft.length ? t("roadworks.rules.points", { n: draft.length }) : "";
    const geom = $("ban-geom");
    if (geom) geom.textContent = draft.length >= 2 ? t("roadworks.rules.geom_line", { n: draft.length }) : t("roadworks.rules.geom_none");
  }
  const coords = () => draft.map((p) => [Number(p.lng.toFixed(7)), Number(p.lat.toFixed(7))]);

  const banForm = $("ban-form");
  if (banForm) {
    map.on("click", (ev) => {
      draft.push(ev.latlng);
      redraw();
    });
    $("draw-undo").addEventListener("click", () => {
      draft.pop();
      redraw();
    });
    $("draw-clear").addEventListener("click", () => {
      draft.length = 0;
      redraw();
    });
    $("ban-paved").value = today();
    $("ban-paved").max = today();
    banForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      submit(banForm, "ban", async () => {
        const body = {
          road: $("ban-road").value.trim(),
          paved_on: $("ban-paved").value || null,
          years: Number($("ban-years").value),
          note: $("ban-note").value.trim(),
        };
        if (draft.length >= 2) {
          body.geometry = { type: "LineString", coordinates: coords() };
          body.width_m = Number($("ban-width").value) || 20;
        }
        const b = await api(API + "/dig-bans", { json: body });
        banForm.reset();
        $("ban-paved").value = today();
        draft.length = 0;
        redraw();
        await loadBooks();
        return t("roadworks.rules.ban_added", { road: b.road, date: b.until });
      });
    });
    redraw();
  }

  const embForm = $("emb-form");
  if (embForm) {
    $("emb-start").value = today();
    $("emb-end").value = today();
    embForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      submit(embForm, "emb", async () => {
        const body = {
          name_zh: $("emb-zh").value.trim(),
          name_en: $("emb-en").value.trim(),
          kind: $("emb-kind").value,
          start_date: $("emb-start").value || null,
          end_date: $("emb-end").value || null,
        };
        if (embForm.querySelector('input[name="emb-where"]:checked').value === "drawn") {
          if (draft.length < 3) throw new OC.ApiError(400, "no_area", t("roadworks.rules.need_area"), "emb-where");
          const ring = coords();
          body.area = { type: "Polygon", coordinates: [ring.concat([ring[0]])] };
        }
        const e = await api(API + "/embargoes", { json: body });
        embForm.reset();
        $("emb-start").value = $("emb-end").value = today();
        if (body.area) {
          draft.length = 0;
          redraw();
        }
        await loadBooks();
        return t("roadworks.rules.emb_added", { name: embName(e) });
      });
    });
  }

  // --- fee tables -----------------------------------------------------------------------------

  const bandText = ([w, rate]) => (w == null ? t("roadworks.rules.band_wider", { rate: money(rate) }) : t("roadworks.rules.band", { w: w, rate: money(rate) }));

  function feeRow(f, current) {
    return el(
      "tr",
      { "data-version": f.version, class: current ? "is-current" : null },
      cell("version", "nowrap", el("strong", { class: "mono", text: f.version }), current ? [" ", el("span", { class: "reg-current", text: t("roadworks.rules.current") })] : null),
      cell("valid_from", "nowrap", f.valid_from),
      cell("base", "num", money(f.base)),
      cell("daily", "wide", el("ul", { class: "reg-plain" }, ...CLASSES.map((c) => el("li", { text: t("roadworks.rules.class." + c) + " " + money(f.daily[c] || 0) })))),
      cell("restoration", "wide", el("ul", { class: "reg-plain" }, ...f.restoration.map((b) => el("li", { text: bandText(b) })))),
      cell("by", null, f.created_at ? f.created_by + " · " + OC.dateTime(f.created_at) : t("roadworks.rules.builtin"))
    );
  }

  function bandRow(w, rate, last) {
    const rateIn = el("input", { type: "number", min: "0", step: "1", inputmode: "numeric", class: "band-rate", value: rate, "aria-label": t("roadworks.rules.band_rate") });
    const width = last
      ? el("span", { class: "band-wider", text: t("roadworks.rules.band_wider_label") })
      : el("input", { type: "number", min: "0.1", max: "100", step: "0.1", class: "band-width", value: w, "aria-label": t("roadworks.rules.band_width") });
    const remove = last ? null : el("button", { type: "button", class: "link-btn", onclick: (ev) => ev.target.closest("li").remove(), text: t("roadworks.rules.remove_band") });
    const unit = (text) => el("span", { class: "sub", text: text });
    return el("li", { class: last ? "band-last" : null }, width, last ? null : unit("m"), "→", rateIn, unit("NT$/m²"), remove);
  }

  function prefill(latest) {
    const nextFrom = latest.valid_from >= today() ? dayAfter(latest.valid_from) : today();
    $("fee-from").value = nextFrom;
    $("fee-from").min = nextFrom;
    $("fee-base").value = latest.base;
    CLASSES.forEach((c) => ($("fee-daily-" + c).value = latest.daily[c] || 0));
    $("fee-bands").replaceChildren(...latest.restoration.map(([w, rate], i) => bandRow(w, rate, i === latest.restoration.length - 1)));
  }

  async function loadFees() {
    try {
      fees = await api(API + "/fees");
      const inForce = fees.filter((f) => f.valid_from <= today()).pop();
      $("fees-body").replaceChildren(...fees.slice().reverse().map((f) => feeRow(f, f === inForce)));
      if (feeForm && fees.length) prefill(fees[fees.length - 1]);
    } catch (err) {
      show($("ru-error"), t("err.generic", { detail: err.detail }));
    }
  }

  const feeForm = $("fee-form");
  if (feeForm) {
    $("fee-add-band").addEventListener("click", () => {
      const last = $("fee-bands").querySelector("li.band-last");
      $("fee-bands").insertBefore(bandRow("", "", false), last);
    });
    feeForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      submit(feeForm, "fee", async () => {
        const num = (v) => (v === "" ? null : Number(v));
        const body = {
          version: $("fee-version").value.trim(),
          valid_from: $("fee-from").value || null,
          base: num($("fee-base").value),
          daily: Object.fromEntries(CLASSES.map((c) => [c, num($("fee-daily-" + c).value)])),
          restoration: Array.from($("fee-bands").children).map((li) => {
            const w = li.querySelector(".band-width");
            return [w ? num(w.value) : null, num(li.querySelector(".band-rate").value)];
          }),
        };
        const f = await api(API + "/fees", { json: body });
        $("fee-version").value = "";
        await loadFees();
        return t("roadworks.rules.fees_added", { version: f.version, date: f.valid_from });
      });
    });
  }

  loadBooks();
  loadFees();
})();
