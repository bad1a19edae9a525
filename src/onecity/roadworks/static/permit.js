/* One permit: its footprint on a map beside the works it clashes with and the pipes under it,
   what the checks found in the page's language, the joint dig and dig order, the fee, the pipe
   owners' locate answers (with the pipes each was asked about) and every step. Buttons by role: RPIC decides and inspects; the applicant's or contractor's staff
   report the works. The API decides who may do what and its refusals are shown as they come. */
(function () {
  "use strict";
  const { cfg, page, t, el, api, show } = OC;
  const ref = String(page.ref || "");
  const URL_ = "/api/v1/roadworks/permits/" + encodeURIComponent(ref);
  const errorBox = document.getElementById("permit-error");
  const msg = document.getElementById("action-msg");
  const actionError = document.getElementById("action-error");
  const note = document.getElementById("action-note");
  const mapEl = document.getElementById("permit-map");
  const $ = (id) => document.getElementById(id);
  let orgs = null; // code -> org, with members
  const R = window.OCR;
  let related = {}; // ref -> the works the findings name, as far as this user may see it
  let outlines = {}; // ref -> geometry of the works the findings name (read or public)
  let permit = null;
  let pipes = []; // GeoJSON features of the pipes the locate requests named
  let busy = false;
  const query = new URLSearchParams(location.search);
  let justFiled = query.get("filed") === "1" ? "roadworks.permit.filed" : query.get("resubmitted") === "1" ? "roadworks.amend.done" : "";

  const local = R.local;
  /* An organisation's name in the page's language: from the permit's own names when it has
     them, else from the register; the code when neither knows it. */
  const orgName = (code, names) => {
    if (names) return R.orgName(code, names["zh-TW"], names.en);
    const o = orgs && orgs[code];
    return o ? R.orgName(code, o.name_zh, o.name_en) : code;
  };
  const nameText = (code) => {
    const n = orgName(code);
    return typeof n === "string" ? n : n.textContent;
  };
  const status = (s) => el("span", { class: "rw-status st-" + s, text: t("roadworks.permit.status." + s) });
  /* Another works named on this permit: its page when this user may open it, its public view
     on the works map when the city has it on the road, else its number alone (saying why). */
  const permitLink = (r) => {
    const o = related[r];
    if (r === ref || (o && o.readable)) return el("a", { href: "/roadworks/permits/" + encodeURIComponent(r), class: "mono", text: r });
    if (o && o.public) return el("a", { href: "/roadworks/map?" + new URLSearchParams({ ref: r, day: o.start_date }), class: "mono rw-public-link", title: t("roadworks.permit.public_view"), text: r });
    return el("span", { class: "mono", title: t("roadworks.permit.not_yours"), text: r });
  };
  const yes = (b) => (b ? t("roadworks.permit.yes") : t("roadworks.permit.no"));
  // "NT$" in both languages (zh-TW's own currency format would say a bare "$").
  const ntd = (n) => "NT$" + Number(n).toLocaleString(cfg.lang, { maximumFractionDigits: 0 });
  const clashRefs = (p) => p.findings.filter((f) => (f.code === "clash" || f.code === "repeat_dig") && f.data && f.data.other).map((f) => f.data.other);

  /* --- the map (district outlines, no tiles from the internet) ---------------------------- */
  const [w, s, e, n] = cfg.city.bounds;
  const map = L.map(mapEl, { maxZoom: 22, maxBounds: L.latLngBounds([s - 0.15, w - 0.15], [n + 0.15, e + 0.15]), zoomSnap: 0.5 });
  map.attributionControl.setPrefix(false);
  map.createPane("districts").style.zIndex = 350;
  map.setView([cfg.city.center[1], cfg.city.center[0]], cfg.city.zoom);
  if (cfg.tile_url) L.tileLayer(cfg.tile_url, { maxZoom: 20 }).addTo(map);
  L.control.scale({ imperial: false }).addTo(map);
  api("/api/v1/geo/districts")
    .then((gj) => L.geoJSON(gj, { pane: "districts", interactive: false, style: { color: "#3d5a80", weight: 1.2, fillColor: cfg.tile_url ? "#3d5a80" : "#f7f3ea", fillOpacity: cfg.tile_url ? 0.04 : 1 } }).addTo(map))
    .catch(() => {}); // decoration only: the works show without it
  const shapes = L.featureGroup().addTo(map);
  // Pipes above the works' fill, so a pipe under the dig stays visible and can be tapped.
  map.createPane("pipes").style.zIndex = 450;
  const pipeLayer = L.featureGroup().addTo(map);
  // The APWA colour code crews know from paint marks on the road.
  const PIPE_COLOURS = { water: "#1f6feb", sewer: "#1a7f37", power: "#cf222e", gas: "#bf8700", telecom: "#e16f24", other: "#8250df" };

  function drawMap(p) {
    shapes.clearLayers();
    // Refs on hover or tap: permanent labels would cover shapes only metres across.
    const tip = (r) => L.tooltip({ direction: "top", className: "rw-ref-label" }).setContent(r);
    Object.entries(outlines).forEach(([r, geom]) => {
      L.geoJSON(geom, { style: { color: "#cf222e", weight: 2, dashArray: "6 4", fillOpacity: 0.2 } })
        .bindTooltip(tip(r))
        .addTo(shapes);
    });
    L.geoJSON(p.geometry, { style: { color: "#0a58ca", weight: 3, fillOpacity: 0.35 } }).bindTooltip(tip(p.ref)).addTo(shapes);
    mapEl.dataset.shapes = String(shapes.getLayers().length);
    drawPipes();
    map.fitBounds(shapes.getBounds(), { padding: [30, 30], maxZoom: 21 });
  }

  const metres = (v) => t("roadworks.pipes.m", { v: OC.num(v) });
  function pipeLine(f) {
    const q = f.properties;
    return t("roadworks.pipes.line", { id: f.id, kind: t("roadworks.pipes.kind." + q.kind), dn: q.diameter_mm, material: q.material || "–", year: q.year_laid || "–" });
  }
  function pipePopup(f) {
    const q = f.properties;
    const row = (key, value) => [el("dt", { text: t("roadworks.pipes.f." + key) }), el("dd", { text: value })];
    return el(
      "div",
      { class: "rw-pipe-pop" },
      el("strong", {}, orgName(q.owner), " · " + t("roadworks.pipes.kind." + q.kind)),
      q.retired ? el("p", { class: "rw-retired", text: t("roadworks.pipes.retired", { id: q.replaced_by || "?" }) }) : null,
      el(
        "dl",
        {},
        ...row("diameter", "DN" + q.diameter_mm),
        ...row("material", q.material || "–"),
        ...row("year", q.year_laid ? String(q.year_laid) : "–"),
        ...row("depth", t("roadworks.pipes.depth_ends", { a: metres(q.depth_start_m), b: metres(q.depth_end_m) })),
        ...row("survey", t("roadworks.pipes.survey_acc", { survey: q.survey || "–", acc: metres(q.accuracy_m) }))
      )
    );
  }
  function drawPipes() {
    pipeLayer.clearLayers();
    pipes.forEach((f) => {
      const q = f.properties;
      const colour = PIPE_COLOURS[q.kind] || PIPE_COLOURS.other;
      L.geoJSON(f, { pane: "pipes", style: { color: colour, weight: 5, opacity: q.retired ? 0.55 : 0.95, dashArray: q.retired ? "2 8" : null } })
        .bindTooltip(pipeLine(f), { sticky: true })
        .bindPopup(() => pipePopup(f))
        .addTo(pipeLayer);
    });
    mapEl.dataset.pipes = String(pipes.length);
    const kinds = [...new Set(pipes.map((f) => f.properties.kind))];
    $("pipe-legend").replaceChildren(
      ...kinds.map((k) => el("li", {}, el("span", { class: "rw-key k-pipe k-" + k, "aria-hidden": "true" }), t("roadworks.pipes.kind." + k)))
    );
  }

  /* --- what the permit says ---------------------------------------------------------------- */
  function renderDetails(p) {
    const dd = (key, ...kids) => [el("dt", { text: t("roadworks.permit.f." + key) }), el("dd", {}, ...kids)];
    const flags = ["night", "residential", "emergency"].filter((k) => p[k]).map((k) => t("roadworks.permit." + k));
    $("details").replaceChildren(
      ...dd("applicant", orgName(p.applicant, p.applicant_names)),
      ...dd("contractor", p.contractor ? orgName(p.contractor, p.contractor_names) : "–"),
      ...dd("purpose", t("roadworks.permit.purpose." + p.purpose) + " · ", R.text(p.description)),
      ...dd("road", ...R.joined([p.road ? R.text(p.road) : "–", R.text(p.district)])),
      ...dd("dates", t("roadworks.map.period", { start: OC.date(p.start_date), end: OC.date(p.end_date) }), p.hours ? [" · ", R.text(p.hours)] : null),
      ...dd("size", t("roadworks.permit.size", { area: OC.num(p.area_m2), width: OC.num(p.width_m), depth: OC.num(p.depth_m) })),
      ...dd("road_class", t("roadworks.permit.road_class." + p.road_class)),
      ...dd("category", t("roadworks.permit.category." + p.category)),
      ...dd("filed", OC.dateTime(p.filed_at)),
      ...dd("decide_by", OC.date(p.decide_by)),
      ...dd("conditions", flags.length ? flags.join(" · ") : t("roadworks.permit.none"))
    );
  }

  function finding(f, p) {
    const other = f.data && f.data.other;
    // A clash settled by digging together no longer stands in the way.
    const sev = p.joint_group && (f.code === "clash" || f.code === "repeat_dig") ? "joint" : f.severity;
    return el(
      "li",
      { class: "rw-finding sev-" + sev, "data-code": f.code },
      el("span", { class: "rw-sev", text: t("roadworks.permit.sev." + sev) }),
      el("span", { class: "reason", text: local(f.reason) }),
      other ? [" ", el("span", { class: "sub" }, "→ ", permitLink(other))] : null
    );
  }

  function renderJoint(p) {
    const box = $("joint-body");
    const order = (refs) =>
      el("ol", { class: "rw-order", id: "dig-order" }, refs.map((r) => el("li", { class: r === p.ref ? "is-this" : null }, permitLink(r), r === p.ref ? " " + t("roadworks.permit.this_one") : null)));
    // The order comes from the server, by the one rule the check before filing used too.
    const jd = p.joint_dig;
    if (p.joint_group) {
      box.replaceChildren(
        el("p", { text: t("roadworks.permit.joint_granted", { group: p.joint_group, n: p.dig_order || "?" }) }),
        jd ? order(jd.members) : null
      );
      $("joint").hidden = false;
    } else if (jd) {
      box.replaceChildren(el("p", { text: t("roadworks.permit.joint_proposed") }), order(jd.members));
      $("joint").hidden = false;
    } else {
      $("joint").hidden = true;
    }
    $("permit-joint").replaceChildren(p.joint_group ? el("span", { class: "rw-flag fl-joint", text: t("roadworks.permits.flag_joint", { group: p.joint_group, n: p.dig_order || "?" }) }) : "");
  }

  function feeItem(item) {
    let m = /^road use (\d+) d x NT\$(\d+)$/.exec(item);
    if (m) return t("roadworks.permit.fee_road_use", { days: m[1], rate: m[2] });
    m = /^restoration at NT\$(\d+)\/m²$/.exec(item);
    if (m) return t("roadworks.permit.fee_restoration", { rate: m[1] });
    return item === "base" ? t("roadworks.permit.fee_base") : item;
  }
  function renderFee(p) {
    $("fee-lines").replaceChildren(...p.fee_lines.map((l) => el("tr", {}, el("td", { text: feeItem(l.item) }), el("td", { text: ntd(l.amount) }))));
    $("fee-total").textContent = ntd(p.fee_total);
    $("fee-version").textContent = t("roadworks.permit.fee_version", { v: p.fee_version });
  }

  function pipeList(l) {
    const owned = pipes.filter((f) => f.properties.owner === l.owner);
    if (!owned.length) return t("roadworks.pipes.count", { n: l.pipes });
    return el(
      "ul",
      { class: "rw-pipe-list" },
      owned.map((f) =>
        el(
          "li",
          { "data-pipe": f.id },
          el("span", { class: "rw-key k-pipe k-" + f.properties.kind, "aria-hidden": "true" }),
          pipeLine(f),
          el("span", { class: "sub", text: " · " + t("roadworks.pipes.deep", { range: t("roadworks.pipes.depth_ends", { a: metres(f.properties.depth_start_m), b: metres(f.properties.depth_end_m) }) }) }),
          f.properties.retired ? [" ", el("span", { class: "rw-retired", text: t("roadworks.pipes.retired_short") })] : null
        )
      )
    );
  }
  function renderLocates(p) {
    const cell = (label, cls, ...kids) => el("td", { "data-label": t("roadworks.locates.col." + label), class: cls || null }, ...kids);
    $("locates").replaceChildren(
      ...p.locates.map((l) =>
        el(
          "tr",
          { class: l.overdue ? "is-overdue" : null, "data-owner": l.owner },
          cell("owner", null, orgName(l.owner, l.owner_names)),
          el("td", { "data-label": t("roadworks.pipes.col"), class: "wide" }, pipeList(l)),
          cell("due", "nowrap", OC.date(l.due_by), l.overdue ? [" ", el("span", { class: "overdue", text: t("roadworks.locates.overdue") })] : null),
          cell("response", null, el("span", { class: "rw-resp r-" + l.response, text: t("roadworks.locates.resp." + l.response) }), l.responded_by ? [el("br"), el("span", { class: "sub", text: l.responded_by + " · " + OC.dateTime(l.responded_at) })] : null),
          cell("note", "wide", l.note || "–")
        )
      )
    );
    $("locates-none").hidden = p.locates.length > 0;
    $("locates-count").textContent = "(" + OC.num(p.locates.length) + ")";
  }

  function renderSteps(p) {
    $("steps").replaceChildren(
      ...p.steps.map((st) => {
        const what = t("roadworks.permit.step." + st.step);
        const moved = st.from_status && st.from_status !== st.to_status ? " · " + t("roadworks.permit.status." + st.from_status) + " → " + t("roadworks.permit.status." + st.to_status) : "";
        const d = st.detail || {};
        const extra = d.response
          ? t("roadworks.permit.step_locate", { owner: nameText(d.owner), response: t("roadworks.locates.resp." + d.response) })
          : d.group
            ? t("roadworks.permit.step_group", { group: d.group })
            : d.snapshot
              ? t("roadworks.permit.step_imported", { day: OC.date(d.snapshot) })
              : st.step === "locate_overdue" && d.due_by
                ? t("roadworks.permit.step_overdue", { owner: String(nameText(d.owner)), date: OC.date(d.due_by) })
                : st.step === "deemed_granted" && d.decide_by
                  ? t("roadworks.permit.step_deemed", { date: OC.date(d.decide_by) })
                  : "";
        return el(
          "li",
          { "data-step": st.step },
          el("span", { class: "what", text: what }),
          el("span", { class: "sub", text: moved }),
          el("br"),
          el("span", { class: "sub" }, el("time", { datetime: st.at, text: OC.dateTime(st.at) }), " · " + st.actor),
          extra ? el("p", { class: "note", text: extra }) : null,
          st.note ? el("p", { class: "note", text: st.note }) : null
        );
      })
    );
  }

  /* --- who may press what ----------------------------------------------------------------- */
  function mine(p) {
    if (!orgs) return false;
    const codes = [p.applicant, p.contractor].filter(Boolean);
    return codes.some((c) => orgs[c] && orgs[c].members.includes(page.username));
  }
  function buttons(p) {
    const out = [];
    const b = (id, label, cls, run) => out.push(el("button", { type: "button", id: id, class: "btn " + (cls || ""), text: t(label), onclick: run }));
    const open = ["applied", "changes_requested"].includes(p.status);
    if (OC.can("roadworks:assess")) {
      if (open) {
        const clash = clashRefs(p).length > 0;
        if (!p.findings.some((f) => f.code === "clash")) b("act-grant", "roadworks.permit.act.grant", "btn-ok", () => decide("grant", false));
        if (clash) b("act-joint", "roadworks.permit.act.joint", "btn-ok", () => decide("grant", true));
        b("act-changes", "roadworks.permit.act.changes", "btn-warn", () => decide("changes", false));
        b("act-refuse", "roadworks.permit.act.refuse", "btn-danger", () => decide("refuse", false));
      }
      if (p.status === "restored") {
        b("act-pass", "roadworks.permit.act.pass", "btn-ok", () => act("/inspection", { result: "pass", note: note.value.trim() }, "pass"));
        b("act-fail", "roadworks.permit.act.fail", "btn-danger", () => needNote() && act("/inspection", { result: "fail", note: note.value.trim() }, "fail"));
      }
    }
    if (mine(p)) {
      if (p.status === "granted") b("act-start", "roadworks.permit.act.start", "btn-ok", () => act("/progress", { step: "start", note: note.value.trim() }, "start"));
      if (p.status === "in_progress") b("act-stop", "roadworks.permit.act.stop", "", () => act("/progress", { step: "stop", note: note.value.trim() }, "stop"));
      if (p.status === "works_done") b("act-restored", "roadworks.permit.act.restored", "", () => act("/progress", { step: "restored", note: note.value.trim() }, "restored"));
      if (open || p.status === "granted") b("act-withdraw", "roadworks.permit.act.withdraw", "btn-quiet", withdraw);
    }
    return out;
  }
  /* RPIC sent the application back: its note, where the applicant's staff will look first, and
     the way to the form filled in as filed. */
  function renderAmend(p) {
    const asked = p.steps.filter((st) => st.step === "changes_requested").pop();
    $("amend").hidden = !(p.status === "changes_requested" && mine(p));
    $("amend-note").textContent = asked && asked.note ? asked.note : t("roadworks.amend.no_note");
    $("amend-by").textContent = asked ? t("roadworks.amend.asked_by", { who: asked.actor, at: OC.dateTime(asked.at) }) : "";
    $("amend-link").href = "/roadworks/apply?amend=" + encodeURIComponent(p.ref);
  }
  function renderActions(p) {
    const list = buttons(p);
    $("action-buttons").replaceChildren(...list);
    $("actions").hidden = list.length === 0;
    $("note-field").hidden = list.length === 0;
    const lead = OC.can("roadworks:assess") && ["applied", "changes_requested"].includes(p.status) ? "roadworks.permit.lead_decide" : mine(p) ? "roadworks.permit.lead_works" : "";
    show($("actions-lead"), lead ? t(lead, { date: OC.date(p.decide_by) }) : "");
    $("note-hint").textContent = t(OC.can("roadworks:assess") ? "roadworks.permit.note_hint" : "roadworks.permit.note_hint_works");
  }

  function needNote() {
    if (note.value.trim()) return true;
    show(actionError, t("roadworks.permit.note_needed"));
    note.focus();
    return false;
  }
  function decide(decision, joint) {
    if (decision !== "grant" && !needNote()) return;
    act("/decision", { decision: decision, note: note.value.trim(), joint_dig: joint }, joint ? "joint" : decision);
  }
  let armed = false;
  function withdraw() {
    if (!armed) {
      armed = true;
      $("act-withdraw").textContent = t("roadworks.permit.act.withdraw_confirm");
      return;
    }
    act("/withdraw", null, "withdraw");
  }
  async function act(path, body, done) {
    if (busy) return;
    busy = true;
    show(msg, "");
    show(actionError, "");
    $("action-buttons").querySelectorAll("button").forEach((x) => (x.disabled = true));
    try {
      await api(URL_ + path, body ? { json: body } : { method: "POST" });
      show(msg, t("roadworks.permit.done." + done, { ref: ref }));
      note.value = "";
    } catch (err) {
      show(actionError, t("roadworks.permit.failed", { detail: err.detail }));
    }
    busy = false;
    armed = false;
    await load();
  }

  /* --- loading ----------------------------------------------------------------------------- */
  /* The works the findings name, as the permit's `related` says this user may see them: their
     outline where they may read them or the public may; no request for a permit they may not
     open. */
  function relate(p) {
    related = Object.fromEntries((p.related || []).map((o) => [o.ref, o]));
    outlines = Object.fromEntries((p.related || []).filter((o) => o.geometry).map((o) => [o.ref, o.geometry]));
  }

  async function load() {
    try {
      if (!orgs) {
        const list = await api("/api/v1/roadworks/orgs").catch(() => []);
        orgs = Object.fromEntries(list.map((o) => [o.code, o]));
      }
      const [p, under] = await Promise.all([api(URL_), api(URL_ + "/pipes").catch(() => ({ features: [] }))]);
      relate(p);
      pipes = under.features;
      permit = p;
      $("permit-status").replaceChildren(status(p.status));
      renderDetails(p);
      $("findings").replaceChildren(...p.findings.map((f) => finding(f, p)));
      $("findings-none").hidden = p.findings.length > 0;
      $("findings-count").textContent = "(" + OC.num(p.findings.length) + ")";
      renderJoint(p);
      renderFee(p);
      renderLocates(p);
      renderSteps(p);
      renderAmend(p);
      renderActions(p);
      drawMap(p);
      // The site section (site.js) follows the permit as this page loads it.
      document.dispatchEvent(new CustomEvent("rw:permit", { detail: { permit: p, mine: mine(p), orgName: orgName } }));
      show(errorBox, "");
      if (justFiled) {
        show(msg, t(justFiled, { ref: ref }));
        justFiled = "";
      }
    } catch (err) {
      show(errorBox, err.status === 404 ? t("roadworks.permit.not_found", { ref: ref }) : t("err.generic", { detail: err.detail }));
    }
  }

  OC.permitMap = map; // site.js lets a phone without a position pick it on this map
  const reload = OC.debounce(load, 300);
  OC.live.on("roadworks.permit", (ev) => (ev.payload.permit === ref || (permit && clashRefs(permit).includes(ev.payload.permit))) && !busy && reload());
  OC.live.on("connected", () => permit && reload());
  load();
  window.OCR.startLive();
  if (!OC.can(R.STREAM_PERM)) setInterval(() => !busy && load(), 60000); // no stream: look again now and then
})();
