/* The collection planner: today's or tomorrow's plan on a map (one coloured line per truck,
   depot → stops → depot, numbered stops; served ones grey, fires red; stations left out as
   grey dots) and as a list per truck with times, loads against capacity and why each stop is
   there. "Plan now" makes a new version; "Insert urgent visit" puts a stop into today's
   running routes. Kept live by the "waste.plan" and "waste.plan_stop" events. */
(function () {
  "use strict";
  const { cfg, t, el, api, show } = OC;
  const W = window.OCW;
  const REFRESH_MS = 60000;
  const COLORS = 6; // truck colours in planner.css: .tc-0 … .tc-5
  const HEX = ["#0a58ca", "#1a7f37", "#8250df", "#b35900", "#0f7b8a", "#bf3989"];
  const LEFT = "#8c959f";

  const $ = (id) => document.getElementById(id);
  const mapEl = $("plan-map");
  const meta = $("plan-meta");
  const none = $("plan-none");
  const msg = $("plan-msg");
  const errorLine = $("plan-error");
  const planNow = $("plan-now");
  const truckList = $("truck-list");
  const fresh = new OC.Freshness("waste-planner");

  let day = W.params().get("day") === "tomorrow" ? "tomorrow" : "today";
  let plan = null;
  let trucks = []; // every truck of the department, also those without stops
  const SEEN_MS = 10 * 60000; // a position older than this is not shown (nor used to re-plan)
  let names = new Map();
  let fittedFor = null; // the day and trucks the map was last zoomed to
  const dayIso = () => OCP.day(day === "tomorrow" ? 1 : 0);

  /* --- the map (district outlines, no internet tiles) ------------------------------------ */
  const map = W.cityMap(mapEl);
  const layer = L.layerGroup().addTo(map);
  const ll = (pt) => (pt && pt.coordinates ? [pt.coordinates[1], pt.coordinates[0]] : null);

  function numIcon(stop, c) {
    const fire = stop.kind === "fire";
    const served = stop.status === "served";
    const cls = "plan-num tc-" + c + (served ? " is-served" : "") + (fire ? " is-fire" : "");
    return L.divIcon({
      className: "plan-num-icon",
      html: el("span", { class: cls, text: served ? "✓" : String(stop.seq) }),
      iconSize: [26, 26],
      iconAnchor: [13, 13],
    });
  }

  function stopPopup(r, st) {
    return el(
      "div",
      { class: "popup plan-popup" },
      el("h3", {}, st.seq + ". ", OC.name(st.station_name)),
      el("p", { text: r.truck_name + " · " + OCP.hhmm(st.arrive_at) + " · " + OCP.kind(st.kind) }),
      el("p", { class: "sub", text: OCP.why(st.reason) }),
      st.status === "served" ? el("p", { class: "ok-line", text: "✓ " + t("waste.planner.served_at", { time: OCP.hhmm(st.served_at) }) }) : null
    );
  }

  function drawMap() {
    layer.clearLayers();
    let lines = 0;
    let markers = 0;
    const all = [];
    if (plan) {
      plan.routes.forEach((r, i) => {
        const c = i % COLORS;
        const depot = ll(r.depot);
        const path = [depot, ...r.stops.map((st) => ll(st.location)), depot].filter(Boolean);
        all.push(...path);
        L.polyline(path, { color: HEX[c], weight: 4, opacity: 0.85, className: "plan-line" }).addTo(layer);
        lines += 1;
        if (depot)
          L.circleMarker(depot, { radius: 7, weight: 3, color: HEX[c], fillColor: "#24292f", fillOpacity: 1 })
            .bindTooltip(t("waste.planner.depot_of", { truck: r.truck_name }))
            .addTo(layer);
        for (const st of r.stops) {
          const at = ll(st.location);
          if (!at) continue;
          L.marker(at, { icon: numIcon(st, c), zIndexOffset: st.kind === "fire" ? 1000 : 0, keyboard: false })
            .bindPopup(() => stopPopup(r, st))
            .bindTooltip(st.seq + ". " + st.station_name, { direction: "top", offset: [0, -12] })
            .addTo(layer);
          markers += 1;
        }
      });
      // where each truck's crew phone saw it in the last 10 minutes (re-plans start there)
      for (const tr of trucks) {
        const seen = tr.seen && ll(tr.seen.location);
        if (!seen || Date.now() - Date.parse(tr.seen.at) > SEEN_MS) continue;
        const k = plan.routes.findIndex((r) => r.truck_id === tr.id);
        L.circleMarker(seen, { radius: 9, weight: 3, color: "#ffffff", fillColor: k >= 0 ? HEX[k % COLORS] : LEFT, fillOpacity: 1, className: "plan-seen" })
          .bindTooltip(t("waste.planner.seen", { truck: tr.name, time: OCP.hhmm(tr.seen.at) }))
          .addTo(layer);
        all.push(seen);
      }
      for (const st of plan.left_out) {
        const at = ll(st.location);
        if (!at) continue;
        all.push(at);
        L.circleMarker(at, { radius: 6, weight: 2, color: "#ffffff", fillColor: LEFT, fillOpacity: 0.95 })
          .bindPopup(() =>
            el(
              "div",
              { class: "popup plan-popup" },
              el("h3", {}, OC.name(st.station_name)),
              el("p", { text: t("waste.planner.status." + st.status) }),
              el("p", { class: "sub", text: OCP.why(st.reason) })
            )
          )
          .bindTooltip(st.station_name)
          .addTo(layer);
        markers += 1;
      }
    }
    mapEl.dataset.routes = String(lines);
    mapEl.dataset.markers = String(markers);
    const key = dayIso() + "|" + (plan ? plan.routes.map((r) => r.truck_id).join(",") : "");
    if (all.length && key !== fittedFor) {
      map.fitBounds(L.latLngBounds(all), { padding: [30, 30], maxZoom: 15, animate: false });
      fittedFor = key;
    }
  }

  /* --- the list per truck ---------------------------------------------------------------- */
  function bar(label, used, cap, unit) {
    const share = cap > 0 ? Math.min(1, used / cap) : 0;
    const fill = el("span", { class: "bar-fill" + (share > 0.95 ? " is-full" : "") });
    fill.style.width = (share * 100).toFixed(1) + "%"; // CSSOM, which the CSP allows
    return el(
      "div",
      { class: "load" },
      el("span", { class: "load-label", text: label }),
      el("span", { class: "bar", role: "img", "aria-label": label + " " + Math.round(share * 100) + "%" }, fill),
      el("span", { class: "load-num", text: t("waste.planner.of", { used: OCP.one(used), cap: OCP.one(cap), unit: unit }) })
    );
  }

  function stopRow(st) {
    const served = st.status === "served";
    return el(
      "li",
      { class: "pstop" + (served ? " is-served" : "") + (st.kind === "fire" ? " is-fire" : ""), "data-stop": st.id, "data-status": st.status, "data-kind": st.kind, "data-station": st.station_id },
      el("span", { class: "pstop-seq", text: served ? "✓" : String(st.seq) }),
      el("span", { class: "pstop-time", text: OCP.hhmm(st.arrive_at) }),
      el(
        "span",
        { class: "pstop-main" },
        el("span", { class: "pstop-name", lang: OC.cfg.data_language, text: st.station_name }),
        " ",
        el("span", { class: "pkind pkind-" + st.kind, text: OCP.kind(st.kind) }),
        served ? el("span", { class: "pstop-served", text: t("waste.planner.served_at", { time: OCP.hhmm(st.served_at) }) }) : null,
        el("span", { class: "pstop-reason", text: OCP.why(st.reason) })
      ),
      el("span", { class: "pstop-load", text: t("waste.planner.load_after", { kg: OCP.one(st.load_kg), m3: OCP.two(st.load_m3) }) })
    );
  }

  function truckCard(r, i) {
    const maxM3 = Math.max(0, ...r.stops.map((st) => st.load_m3 || 0));
    const served = r.stops.filter((st) => st.status === "served").length;
    const facts = [
      t("waste.planner.shift", { start: r.shift_start, end: r.shift_end }),
      t("waste.planner.leaves_back", { leaves: OCP.hhmm(r.leaves_at), back: OCP.hhmm(r.back_at) }),
      t("waste.planner.km", { km: OCP.one(r.distance_km) }),
      t("waste.planner.stops_n", { n: r.stops.length, served: served }),
    ];
    return el(
      "li",
      { class: "truck tc-" + (i % COLORS), "data-truck": r.truck_id },
      el(
        "div",
        { class: "truck-head" },
        el("span", { class: "swatch", "aria-hidden": "true" }),
        el("h3", {}, OC.name(r.truck_name)),
        el("span", { class: "truck-crew", text: r.crew ? t("waste.planner.crew", { crew: r.crew }) : t("waste.planner.no_crew") })
      ),
      el("p", { class: "truck-facts", text: facts.join(" · ") }),
      el("div", { class: "loads" }, bar(t("waste.planner.load_kg"), r.load_kg, r.capacity_kg, "kg"), bar(t("waste.planner.load_m3"), maxM3, r.capacity_m3, "m³")),
      el("ol", { class: "pstops" }, r.stops.map(stopRow))
    );
  }

  function idleCard(tr) {
    return el(
      "li",
      { class: "truck is-idle", "data-truck": tr.id },
      el("div", { class: "truck-head" }, el("span", { class: "swatch", "aria-hidden": "true" }), el("h3", {}, OC.name(tr.name)), el("span", { class: "truck-crew", text: tr.crew ? t("waste.planner.crew", { crew: tr.crew }) : t("waste.planner.no_crew") })),
      el("p", { class: "truck-facts", text: t("waste.planner.shift", { start: tr.shift_start, end: tr.shift_end }) + " · " + t("waste.planner.idle") })
    );
  }

  function renderList() {
    if (!plan) {
      truckList.replaceChildren();
      return;
    }
    const routed = new Set(plan.routes.map((r) => r.truck_id));
    truckList.replaceChildren(...plan.routes.map(truckCard), ...trucks.filter((tr) => !routed.has(tr.id)).map(idleCard));
  }

  function renderLeft() {
    const left = plan ? plan.left_out : [];
    $("left-out").hidden = !plan;
    $("left-count").textContent = "(" + left.length + ")";
    $("left-list").replaceChildren(
      ...(left.length
        ? left.map((st) =>
            el(
              "li",
              { class: "left left-" + st.status, "data-station": st.station_id, "data-status": st.status },
              el("span", { class: "left-name", lang: OC.cfg.data_language, text: st.station_name }),
              el("span", { class: "left-status", text: t("waste.planner.status." + st.status) }),
              el("span", { class: "left-reason", text: OCP.why(st.reason) })
            )
          )
        : [el("li", { class: "empty", text: t("waste.planner.left_none") })])
    );
  }

  function renderHead() {
    document.querySelectorAll(".day-switch [data-day]").forEach((b) => {
      b.setAttribute("aria-pressed", String(b.dataset.day === day));
      b.querySelector(".day-date").textContent = OCP.day(b.dataset.day === "tomorrow" ? 1 : 0).slice(5).replace("-", "/");
    });
    planNow.hidden = !OC.can("waste:manage");
    show(none, plan ? "" : t("waste.planner.none", { day: dayIso() }));
    meta.hidden = !plan;
    const box = $("plan-unserved");
    const urgentLine = $("plan-urgent");
    if (!plan) {
      box.hidden = true;
      urgentLine.hidden = true;
      return;
    }
    const item = (k, v, cls) => el("div", { class: "meta-item" }, el("dt", { text: t("waste.planner.meta." + k) }), el("dd", { class: cls || null, "data-meta": k, text: v }));
    const made = () => {
      const parts = t("waste.planner.made_by", { time: OC.dateTime(plan.created_at), user: "\u0001" }).split("\u0001");
      const dd = item("made", "");
      dd.querySelector("dd").replaceChildren(parts[0], el("span", { translate: "no", text: plan.created_by }), parts[1] || "");
      return dd;
    };
    meta.replaceChildren(
      item("version", "v" + plan.version),
      item("reason", OCP.reason(plan.reason, names), "meta-reason"),
      made(),
      item("km", t("waste.planner.km", { km: OCP.one(plan.distance_km) })),
      item("solve", t("waste.planner.seconds", { s: OCP.one(plan.solve_s) })),
      item("travel", OCP.travel(plan.travel))
    );
    const unserved = (plan.summary && plan.summary.unserved) || [];
    box.hidden = unserved.length === 0;
    box.querySelector("ul").replaceChildren(...unserved.map((u) => el("li", { text: OCP.why(u) })));
    const u = plan.summary && plan.summary.urgent;
    if (u) {
      const station = names.get(u.station_id) || u.station_id;
      const text = u.served
        ? t("waste.planner.urgent_last_ok", { station: station })
        : t("waste.planner.urgent_last_no", { station: station, why: (u.why_not || []).map(OCP.why).join(" ") });
      urgentLine.className = "plan-urgent " + (u.served ? "is-ok" : "is-no");
      show(urgentLine, text);
    } else {
      urgentLine.hidden = true;
    }
  }

  function renderUrgentChoices() {
    const select = $("urgent-station");
    const keep = select.value;
    const opts = [];
    if (plan) {
      for (const r of plan.routes)
        for (const st of r.stops) if (st.status !== "served") opts.push([st.station_id, st.station_name + " (" + r.truck_name + ")"]);
      for (const st of plan.left_out) opts.push([st.station_id, st.station_name + " (" + t("waste.planner.status." + st.status) + ")"]);
    }
    const seen = new Set();
    select.replaceChildren(
      el("option", { value: "", text: t("waste.planner.urgent_pick") }),
      ...opts
        .filter(([id]) => !seen.has(id) && seen.add(id))
        .sort((a, b) => a[1].localeCompare(b[1], cfg.lang))
        .map(([id, label]) => el("option", { value: id, lang: cfg.data_language, text: label }))
    );
    if (seen.has(keep)) select.value = keep;
  }

  function render() {
    names = OCP.names(plan);
    renderHead();
    renderList();
    renderLeft();
    renderUrgentChoices();
    drawMap();
  }

  /* --- loading --------------------------------------------------------------------------- */
  let loading = 0;
  async function load() {
    const mine = ++loading;
    const asked = dayIso();
    try {
      let got = null;
      try {
        got = await api("/api/v1/waste/plans?day=" + asked);
      } catch (err) {
        if (err.status !== 404) throw err;
      }
      trucks = await api("/api/v1/waste/trucks"); // their last positions change
      if (mine !== loading) return; // a newer load (another day) is on its way
      plan = got;
      render();
      show(errorLine, "");
      fresh.mark();
    } catch (err) {
      if (mine === loading) show(errorLine, t("err.generic", { detail: err.detail }));
    }
  }
  const reload = OC.debounce(load, 300);

  document.querySelector(".day-switch").addEventListener("click", (ev) => {
    const b = ev.target.closest("[data-day]");
    if (!b || b.dataset.day === day) return;
    day = b.dataset.day;
    W.setParams({ day: day === "tomorrow" ? "tomorrow" : "" });
    show(msg, "");
    plan = null;
    render();
    load();
  });

  planNow.addEventListener("click", async () => {
    planNow.disabled = true;
    show(errorLine, "");
    show(msg, t("waste.planner.planning"));
    try {
      plan = await api("/api/v1/waste/plans", { json: { day: dayIso() } });
      render();
      show(msg, t("waste.planner.planned", { version: plan.version }));
    } catch (err) {
      show(msg, "");
      show(errorLine, t("waste.planner.plan_failed", { detail: err.detail }));
    } finally {
      planNow.disabled = false;
    }
  });

  /* --- urgent visits --------------------------------------------------------------------- */
  const urgentOut = $("urgent-out");
  $("urgent").hidden = !OC.can("waste:jobs");
  $("urgent-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const station = $("urgent-other").value.trim() || $("urgent-station").value;
    if (!station) {
      urgentOut.className = "urgent-out is-no";
      show(urgentOut, t("waste.planner.urgent_need_station"));
      return;
    }
    const submit = $("urgent-submit");
    submit.disabled = true;
    urgentOut.className = "urgent-out";
    show(urgentOut, t("waste.planner.urgent_working"));
    try {
      const out = await api("/api/v1/waste/plans/urgent", { json: { station_id: station, kind: $("urgent-kind").value } });
      const label = OCP.names(out.plan).get(station) || station;
      const changed = out.changed_trucks.map((id) => (out.plan.routes.find((r) => r.truck_id === id) || { truck_name: id }).truck_name);
      urgentOut.className = "urgent-out " + (out.urgent_served ? "is-ok" : "is-no");
      show(
        urgentOut,
        out.urgent_served
          ? t("waste.planner.urgent_fit", { station: label, trucks: changed.join(t("waste.list_sep")) || "–" })
          : t("waste.planner.urgent_nofit", { station: label, why: out.why_not.map(OCP.why).join(" ") })
      );
      $("urgent-other").value = "";
      if (day !== "today") {
        day = "today";
        W.setParams({});
      }
      plan = out.plan;
      render();
    } catch (err) {
      urgentOut.className = "urgent-out is-no";
      show(urgentOut, t("waste.planner.urgent_failed", { detail: err.detail }));
    } finally {
      submit.disabled = false;
    }
  });

  /* --- live ------------------------------------------------------------------------------ */
  OC.live.on("waste.plan", (ev) => {
    const p = ev.payload || {};
    if (!p.day || p.day === dayIso()) reload();
  });
  OC.live.on("waste.plan_stop", (ev) => {
    const p = ev.payload || {};
    if (!plan || p.plan_id === plan.id) reload();
  });
  OC.live.on("connected", reload);
  setInterval(load, REFRESH_MS);
  render();
  load();
  OC.live.start();
})();
