/* The works site on a permit's page: whether its live camera is sending (and, for the crew,
   the form to register or move it), and the photo check-ins stage by stage. The crew take a
   photo on the phone, which sends it with where it was taken (the phone's GPS, or a point they
   tap on the permit map when the phone will not say) and when. The API decides what counts
   (within 200 m of the works, at a stage the permit is in) and its refusals are shown as sent.
   permit.js announces each load of the permit with a "rw:permit" event. */
(function () {
  "use strict";
  const { cfg, page, t, el, api, show } = OC;
  const ref = String(page.ref || "");
  const URL_ = "/api/v1/roadworks/permits/" + encodeURIComponent(ref);
  const STAGES = ["before", "cutting", "digging", "backfill", "restoration"];
  const STARTED = ["in_progress", "works_done", "restored"];
  const SHOWN = ["granted", ...STARTED, "closed"];
  const MAX_BYTES = 3 * 1024 * 1024; // the API's limit; bigger phone photos are shrunk first
  const REFRESH_MS = 60000; // a feed stops being live 5 minutes after its last frame
  const $ = (id) => document.getElementById(id);
  const whole = new Intl.NumberFormat(cfg.lang, { maximumFractionDigits: 0 });
  const stageName = (st) => t("roadworks.monitor.stage." + st);
  // Mirrors the API's rule, to offer only stages it would take; the API still decides.
  const stageOpen = (st, status) => (st === "before" ? ["granted", ...STARTED] : STARTED).includes(status);

  let permit = null;
  let mine = false; // the signed-in user is on the applicant's or contractor's staff
  let camera = null; // {url, last_frame_at, live} or null when none is registered
  let cameraKnown = false;
  let photos = [];
  let where = null; // {lon, lat, acc, how: "gps" | "map"}
  let picking = false;
  let busy = false;
  let timer = null;
  const map = OC.permitMap;
  const here = L.layerGroup().addTo(map);

  /* --- the camera ---------------------------------------------------------------------------- */
  /* RPIC read the feed's state from the monitoring map's record of the site; the crew learn it
     when they register the URL (PUT answers with the state). */
  async function loadCamera() {
    try {
      camera = await api(URL_ + "/camera");
      cameraKnown = true;
    } catch (_) {
      cameraKnown = false; // the permit is not the user's to read: the state stays unknown
    }
  }

  function renderCamera() {
    let state = "unknown";
    let text = t("roadworks.site.cam_unknown");
    if (cameraKnown && !camera) [state, text] = ["down", t("roadworks.site.no_camera")];
    else if (camera && camera.live) [state, text] = ["live", t("roadworks.site.live", { time: OC.dateTime(camera.last_frame_at) })];
    else if (camera && camera.last_frame_at) [state, text] = ["down", t("roadworks.site.last_frame", { time: OC.dateTime(camera.last_frame_at) })];
    else if (camera) [state, text] = ["down", t("roadworks.site.no_feed")];
    const box = $("cam-state");
    box.className = "rw-feed feed-" + state;
    box.dataset.feed = state;
    box.replaceChildren(el("span", { class: "dot", "aria-hidden": "true" }), el("span", { text: text }));
    const url = $("cam-url");
    url.hidden = !camera;
    if (camera) {
      // Only http(s) feeds open in a browser; an rtsp:// address is for a video player.
      const link = /^https?:\/\//i.test(camera.url) ? el("a", { href: camera.url, target: "_blank", rel: "noopener noreferrer", class: "mono", text: camera.url }) : el("span", { class: "mono", text: camera.url });
      url.replaceChildren(el("span", { class: "sub", text: t("roadworks.site.cam_url") + " " }), link);
    }
    $("camera").hidden = permit.status === "closed";
    $("cam-form").hidden = !mine || permit.status === "closed";
    $("cam-save").textContent = t(camera ? "roadworks.site.cam_replace" : "roadworks.site.cam_save");
  }

  $("cam-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = $("cam-input");
    show($("cam-msg"), "");
    show($("cam-error"), "");
    if (!input.value.trim()) {
      show($("cam-error"), t("roadworks.site.cam_empty"));
      input.focus();
      return;
    }
    $("cam-save").disabled = true;
    try {
      const out = await api(URL_ + "/camera", { method: "PUT", json: { url: input.value.trim() } });
      camera = { url: out.url, last_frame_at: out.last_frame_at, live: out.live };
      cameraKnown = true;
      input.value = "";
      show($("cam-msg"), t("roadworks.site.cam_saved"));
      renderCamera();
    } catch (err) {
      show($("cam-error"), t("roadworks.site.failed", { detail: err.detail }));
    }
    $("cam-save").disabled = false;
  });

  /* --- the photos ---------------------------------------------------------------------------- */
  function thumb(ph) {
    const when = OC.dateTime(ph.taken_at);
    const dist = ph.distance_m === 0 ? t("roadworks.site.on_site") : t("roadworks.site.away", { m: whole.format(ph.distance_m) });
    return el(
      "li",
      { class: "rw-thumb", "data-photo": String(ph.id) },
      el("a", { href: ph.url, target: "_blank", rel: "noopener" }, el("img", { src: ph.url, alt: t("roadworks.site.photo_alt", { stage: stageName(ph.stage), time: when }), loading: "lazy", width: "128", height: "96" })),
      el("time", { datetime: ph.taken_at, text: when }),
      el("span", { class: "sub", text: dist + " · " + ph.uploaded_by })
    );
  }

  function renderPhotos() {
    const by = Object.fromEntries(STAGES.map((st) => [st, photos.filter((ph) => ph.stage === st)]));
    $("stages").replaceChildren(
      ...STAGES.map((st) =>
        el(
          "li",
          { class: "rw-stage" + (by[st].length ? "" : " is-empty"), "data-stage": st },
          el("h4", {}, stageName(st), " ", el("span", { class: "count", text: "(" + by[st].length + ")" })),
          by[st].length ? el("ul", { class: "rw-thumbs" }, by[st].map(thumb)) : el("p", { class: "sub", text: t("roadworks.site.no_photos") })
        )
      )
    );
  }

  function renderForm() {
    const open = STAGES.filter((st) => stageOpen(st, permit.status));
    $("photo-form").hidden = !mine || open.length === 0;
    const select = $("photo-stage");
    Array.from(select.options).forEach((o) => {
      o.disabled = !open.includes(o.value);
      o.textContent = stageName(o.value) + (o.disabled ? " " + t("roadworks.site.stage_later") : "");
    });
    // The next stage without a photo is the likely one; keep the crew's own choice otherwise.
    if (!open.includes(select.value) || !select.dataset.chosen) {
      const next = open.find((st) => !photos.some((ph) => ph.stage === st)) || open[open.length - 1];
      if (next) select.value = next;
    }
  }
  function hintWhere() {
    const box = $("photo-where");
    if (!where && !picking && !box.dataset.how) box.textContent = t("roadworks.site.where_hint");
  }
  $("photo-stage").addEventListener("change", () => ($("photo-stage").dataset.chosen = "1"));

  /* --- where the photo was taken ------------------------------------------------------------ */
  function placeMarker() {
    here.clearLayers();
    if (!where) return;
    const at = [where.lat, where.lon];
    if (where.acc) L.circle(at, { radius: where.acc, color: "#0a58ca", weight: 1, fillOpacity: 0.08, interactive: false }).addTo(here);
    L.circleMarker(at, { radius: 7, color: "#fff", weight: 2, fillColor: "#0a58ca", fillOpacity: 1 }).bindTooltip(t("roadworks.site.you")).addTo(here);
  }
  function sayWhere() {
    const box = $("photo-where");
    if (!where) return;
    box.dataset.how = where.how;
    box.dataset.at = where.lat.toFixed(6) + "," + where.lon.toFixed(6);
    box.textContent = where.how === "gps" ? t("roadworks.site.where_gps", { acc: whole.format(where.acc || 0) }) : t("roadworks.site.where_map", { lat: where.lat.toFixed(6), lon: where.lon.toFixed(6) });
  }
  function startPicking(reason) {
    picking = true;
    map.getContainer().classList.add("rw-picking");
    const box = $("photo-where");
    box.dataset.how = "pick";
    box.textContent = t("roadworks.site.where_" + reason) + " " + t("roadworks.site.where_tap");
  }
  // Caught on the way down, so a tap on a pipe or on the works sets the point too, instead of
  // opening that pipe's popup; the zoom buttons still work.
  map.getContainer().addEventListener(
    "click",
    (ev) => {
      if (!picking || ev.target.closest(".leaflet-control, .leaflet-popup")) return;
      ev.stopPropagation();
      const at = map.mouseEventToLatLng(ev);
      where = { lon: at.lng, lat: at.lat, acc: 0, how: "map" };
      placeMarker();
      sayWhere();
    },
    true
  );

  function locate() {
    return new Promise((resolve) => {
      if (!navigator.geolocation) {
        startPicking("unavailable");
        return resolve(where);
      }
      $("photo-where").dataset.how = "asking";
      $("photo-where").textContent = t("roadworks.site.where_asking");
      navigator.geolocation.getCurrentPosition(
        (pos) => {
          where = { lon: pos.coords.longitude, lat: pos.coords.latitude, acc: pos.coords.accuracy, how: "gps" };
          picking = false;
          map.getContainer().classList.remove("rw-picking");
          placeMarker();
          sayWhere();
          resolve(where);
        },
        (err) => {
          startPicking(err.code === 1 ? "refused" : "unavailable");
          resolve(where);
        },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 0 } // where the phone is now
      );
    });
  }
  $("photo-file").addEventListener("change", () => $("photo-file").files.length && locate());
  $("photo-locate").addEventListener("click", locate);

  /* A phone's full-size photo can be over the API's 3 MB: send a smaller JPEG of it instead. */
  async function shrink(file) {
    if (file.size <= MAX_BYTES || !window.createImageBitmap) return file;
    try {
      const img = await createImageBitmap(file);
      const k = Math.min(1, 2048 / Math.max(img.width, img.height));
      const canvas = el("canvas", { width: String(Math.round(img.width * k)), height: String(Math.round(img.height * k)) });
      canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
      const blob = await new Promise((ok) => canvas.toBlob(ok, "image/jpeg", 0.85));
      return blob && blob.size < file.size ? new File([blob], "photo.jpg", { type: "image/jpeg" }) : file;
    } catch (_) {
      return file; // the API says what is wrong with it
    }
  }

  /* OC.api sends JSON; a photo goes as multipart form data, with the same error handling. */
  async function send(form) {
    const res = await fetch(URL_ + "/photos", { method: "POST", body: form, credentials: "same-origin", headers: { Accept: "application/json" } }).catch(() => null);
    if (!res) throw new OC.ApiError(0, "network", t("err.network"));
    const body = await res.json().catch(() => ({}));
    if (res.ok) return body;
    if (res.status === 401) OC.toLogin(body.error);
    throw new OC.ApiError(res.status, body.error || "http_error", body.detail || res.statusText, body.field);
  }

  $("photo-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (busy) return;
    const msg = $("photo-msg");
    const error = $("photo-error");
    show(msg, "");
    show(error, "");
    const file = $("photo-file").files[0];
    if (!file) {
      show(error, t("roadworks.site.need_photo"));
      $("photo-file").focus();
      return;
    }
    busy = true;
    $("photo-send").disabled = true;
    if (!where) await locate();
    if (!where) {
      show(error, t("roadworks.site.need_where"));
    } else {
      const stage = $("photo-stage").value;
      const form = new FormData();
      form.append("file", await shrink(file));
      form.append("stage", stage);
      form.append("lon", where.lon.toFixed(7));
      form.append("lat", where.lat.toFixed(7));
      form.append("taken_at", new Date().toISOString());
      try {
        await send(form);
        show(msg, t("roadworks.site.sent", { stage: stageName(stage) }));
        $("photo-stage").dataset.chosen = "1"; // more photos of the same stage are likely
        $("photo-file").value = "";
        await loadPhotos();
      } catch (err) {
        const hint = err.code === "too_far" ? t("roadworks.site.too_far") + " " : "";
        show(error, hint + t("roadworks.site.send_failed", { detail: err.detail }));
      }
    }
    busy = false;
    $("photo-send").disabled = false;
  });

  /* --- loading ----------------------------------------------------------------------------- */
  async function loadPhotos() {
    photos = await api(URL_ + "/photos").catch(() => photos);
    renderPhotos();
    renderForm();
    hintWhere();
  }
  async function loadSite() {
    if (!permit) return;
    await Promise.all([loadCamera(), loadPhotos()]);
    renderCamera();
  }

  document.addEventListener("rw:permit", (ev) => {
    permit = ev.detail.permit;
    mine = ev.detail.mine;
    const shown = SHOWN.includes(permit.status);
    $("site").hidden = !shown;
    clearInterval(timer);
    if (!shown) return;
    loadSite();
    timer = setInterval(loadSite, REFRESH_MS);
  });
  OC.live.on("roadworks.site", (ev) => ev.payload && ev.payload.permit === ref && loadSite());
})();
