/* The crew's route today, above their job list: the stops in order with the time to be
   there, what to do, and a big "Done" per stop still to serve. A crew without a truck of
   their own picks one (remembered on this phone). When the planner re-plans and this truck's
   route changes, a banner says when and why and the route reloads by itself ("waste.plan"
   events); jobs.js starts the stream. */
(function () {
  "use strict";
  const { t, el, api, show } = OC;
  const REFRESH_MS = 60000;
  const STORE = "onecity.route.truck";
  const me = OC.page.username;

  const $ = (id) => document.getElementById(id);
  const list = $("route-list");
  const banner = $("route-banner");
  const bannerText = $("route-banner-text");
  const pick = $("route-pick");
  const select = $("route-truck-select");
  const msg = $("route-msg");
  const errorLine = $("route-error");
  const empty = $("route-empty");
  const fresh = new OC.Freshness("waste-route");

  let trucks = null;
  let truckId = null; // the truck this phone follows
  let route = null;
  let changed = null; // {at, reason} of the last re-plan that moved this truck's stops
  let located = false; // the first position was asked for

  function stored() {
    try {
      return localStorage.getItem(STORE);
    } catch (_) {
      return null;
    }
  }
  function remember(id) {
    try {
      if (id) localStorage.setItem(STORE, id);
      else localStorage.removeItem(STORE);
    } catch (_) {
      /* private mode: the choice lasts until the page closes */
    }
  }

  function what(st) {
    if (st.kind === "collect") return t("waste.route.what.collect", { kg: Math.round(st.kg) });
    const key = "waste.route.what." + st.kind;
    return OC.cfg.messages[key] ? t(key) : OCP.kind(st.kind);
  }

  function stopCard(st, next) {
    const served = st.status === "served";
    return el(
      "li",
      {
        class: "rstop rstop-" + st.kind + (served ? " is-served" : "") + (next ? " is-next" : ""),
        "data-stop": st.id,
        "data-status": st.status,
        "data-kind": st.kind,
        "data-station": st.station_id,
      },
      el(
        "div",
        { class: "rstop-top" },
        el("span", { class: "rstop-seq", text: served ? "✓" : String(st.seq) }),
        el("span", { class: "rstop-eta", text: OCP.hhmm(st.arrive_at) }),
        el("span", { class: "pkind pkind-" + st.kind, text: OCP.kind(st.kind) }),
        next ? el("span", { class: "rstop-next", text: t("waste.route.next") }) : null
      ),
      el("h3", { class: "rstop-name" }, OC.name(st.station_name)),
      el("p", { class: "rstop-what", text: what(st) }),
      served
        ? el("p", { class: "rstop-done", text: "✓ " + t("waste.route.done_at", { time: OCP.hhmm(st.served_at) }) })
        : el("button", { type: "button", class: "btn big rstop-btn", "data-action": "served", text: t("waste.route.done") })
    );
  }

  function render() {
    const stops = route ? route.stops : [];
    const nextId = (stops.find((st) => st.status !== "served") || {}).id;
    list.replaceChildren(...stops.map((st) => stopCard(st, st.id === nextId)));
    const truck = trucks && trucks.find((tr) => tr.id === truckId);
    $("route-truck").replaceChildren(...(route
      ? OCW.said("waste.route.truck", { truck: route.truck_name, done: stops.filter((st) => st.status === "served").length, n: stops.length }, ["truck"])
      : truck
        ? [OC.name(truck.name)]
        : []));
    let why = "";
    if (!route) why = truckId ? t("waste.route.none", { truck: truck ? truck.name : truckId }) : t("waste.route.pick_first");
    show(empty, why);
    if (changed) {
      bannerText.textContent = t("waste.route.changed", { time: changed.time, reason: OCP.cause(changed.reason, OCP.names(route && { routes: [route], left_out: [] })) });
      banner.hidden = false;
    }
  }

  function renderPicker(own) {
    pick.hidden = !!own;
    if (own) return;
    select.replaceChildren(
      el("option", { value: "", text: t("waste.route.pick_none") }),
      ...trucks.map((tr) => el("option", { value: tr.id, lang: OC.cfg.data_language, text: tr.name + (tr.crew ? " · " + tr.crew : "") }))
    );
    select.value = truckId || "";
  }

  async function load() {
    try {
      if (!trucks) trucks = await api("/api/v1/waste/trucks");
      $("route").hidden = trucks.length === 0; // a city that plans no routes
      const own = trucks.find((tr) => tr.crew === me);
      if (own) truckId = own.id;
      else {
        truckId = stored();
        if (truckId && !trucks.some((tr) => tr.id === truckId)) {
          truckId = null;
          remember(null);
        }
      }
      renderPicker(own);
      if (own && !located) {
        located = true;
        locate(); // at once, then every 30 s
      }
      route = own || truckId ? await api("/api/v1/waste/my-route" + (own ? "" : "?truck_id=" + encodeURIComponent(truckId))) : null;
      render();
      show(errorLine, "");
      fresh.mark();
    } catch (err) {
      show(errorLine, t("err.generic", { detail: err.detail }));
    }
  }
  const reload = OC.debounce(load, 200);

  select.addEventListener("change", () => {
    remember(select.value || null);
    changed = null;
    banner.hidden = true;
    show(msg, "");
    load();
  });

  list.addEventListener("click", async (ev) => {
    const button = ev.target.closest('button[data-action="served"]');
    if (!button) return;
    const item = button.closest("[data-stop]");
    const st = route && route.stops.find((x) => String(x.id) === item.dataset.stop);
    if (!st) return;
    button.disabled = true;
    try {
      await api("/api/v1/waste/plan-stops/" + st.id + "/served", { method: "POST" });
      show(msg, t("waste.route.done_msg", { station: st.station_name }));
      locate(true); // the truck is here now: a re-plan should start from a fix taken now
    } catch (err) {
      // already served, an older plan, not on a route: the server's sentence says which.
      if (err.status === 409 || err.status === 404) show(msg, err.detail);
      else show(errorLine, t("err.generic", { detail: err.detail }));
    }
    await load();
  });

  $("route-banner-ok").addEventListener("click", () => {
    changed = null;
    banner.hidden = true;
  });

  /* --- live ------------------------------------------------------------------------------ */
  OC.live.on("waste.plan", (ev) => {
    const p = ev.payload || {};
    // today's plan, or yesterday's that a night shift may still be driving
    if (p.day !== OCP.day(0) && p.day !== OCP.day(-1)) return;
    if (truckId && (p.changed_trucks || []).indexOf(truckId) >= 0) {
      changed = { time: OCP.hhmm(ev.at || new Date()), reason: p.reason };
      if (navigator.vibrate) navigator.vibrate([300, 120, 300]);
    }
    reload(); // every new version renumbers the stops, changed for this truck or not
  });
  OC.live.on("waste.plan_stop", (ev) => {
    const p = ev.payload || {};
    if (p.truck_id === truckId) reload();
  });
  OC.live.on("connected", reload);

  /* --- where the truck is ----------------------------------------------------------------
     Every 30 s while this page is open, if the phone shares its position and its user rides
     a truck (the server takes a truck's position from its crew only): a re-plan then sends
     the truck on from where it is, not from the last stop it served. */
  const SEND_MS = 30000;
  function send(p, asked) {
    const own = trucks && trucks.find((tr) => tr.crew === me);
    if (!own) return;
    api("/api/v1/waste/trucks/" + encodeURIComponent(own.id) + "/position", {
      json: {
        location: { type: "Point", coordinates: [p.coords.longitude, p.coords.latitude] },
        accuracy_m: Math.min(100000, Math.round(p.coords.accuracy || 0)),
        // a fix asked for with maximumAge 0 is from now, whatever time the browser stamps it
        at: new Date(asked || p.timestamp || Date.now()).toISOString(),
      },
    }).catch(() => {
      /* outside the city, a stale fix: the next one will do */
    });
  }
  function locate(fresh) {
    if (!navigator.geolocation || !(trucks && trucks.some((tr) => tr.crew === me))) return;
    const asked = fresh === true ? Date.now() : 0;
    navigator.geolocation.getCurrentPosition((p) => send(p, asked), () => {}, {
      enableHighAccuracy: true,
      maximumAge: fresh === true ? 0 : 15000,
      timeout: 20000,
    });
  }
  setInterval(locate, SEND_MS);

  setInterval(load, REFRESH_MS);
  load();
})();
