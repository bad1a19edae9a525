/* The crew's work list, made for a phone in a truck: one column of big cards, most urgent
   first, then the nearest (the phone's position when the crew allows it). Kept live by the
   "waste.job" events on the SSE stream, with a periodic reload in case the stream drops.
   Accept, then close with the collected weight; a job someone else took or closed says so. */
(function () {
  "use strict";
  const { cfg, t, el, api, show } = OC;
  const REFRESH_MS = 30000;
  const MOVED_M = 100; // reload the order once the truck has moved this far
  const SERVICE = new Set(["full", "full_soon"]); // a collection: the weight is required
  const me = OC.page.username;

  const list = document.getElementById("job-list");
  const where = document.getElementById("jobs-where");
  const liveLine = document.getElementById("jobs-live");
  const msg = document.getElementById("jobs-msg");
  const errorLine = document.getElementById("jobs-error");
  const fresh = new OC.Freshness("waste-jobs");
  const dialog = document.getElementById("close-dialog");
  const form = document.getElementById("close-form");
  const kg = document.getElementById("close-kg");
  const note = document.getElementById("close-note");
  const closeError = document.getElementById("close-error");

  let jobs = [];
  let pos = null; // {lat, lon}
  let closing = null; // the job the close form is for
  let known = null; // job ids of the last load, to say which ones are new

  const one = new Intl.NumberFormat(cfg.lang, { maximumFractionDigits: 1 });
  const compartment = (c) => (c ? t("waste.compartment." + c) : t("waste.jobs.whole_station"));
  const kindName = (k) => t("waste.jobs.kind." + k);

  function fault(detail) {
    const key = "waste.fault." + detail;
    return cfg.messages[key] ? t(key) : detail || "?";
  }

  /* What is wrong, in words, from the job's kind and the rule's params. */
  function what(j) {
    const p = j.params || {};
    switch (j.kind) {
      case "fault":
        return t("waste.jobs.what.fault", { fault: fault(j.detail) });
      case "temperature_high":
        return t("waste.jobs.what.temperature_high", { temp: one.format(p.temperature_c), limit: one.format(p.threshold_c) });
      case "full":
        return p.fill != null ? t("waste.jobs.what.full", { fill: Math.round(p.fill * 100) }) : kindName("full");
      case "full_soon":
        return t("waste.jobs.what.full_soon", { time: p.eta ? OC.time(p.eta).slice(0, 5) : "?" });
      default:
        return t("waste.jobs.what." + j.kind);
    }
  }

  function age(since) {
    const min = Math.max(0, Math.floor((Date.now() - OC.parseTime(since).getTime()) / 60000));
    if (min < 60) return t("waste.jobs.age_min", { n: min });
    if (min < 1440) return t("waste.jobs.age_h", { h: Math.floor(min / 60), m: min % 60 });
    return t("waste.jobs.age_d", { d: Math.floor(min / 1440), h: Math.floor((min % 1440) / 60) });
  }

  const distance = (m) =>
    m < 1000 ? t("waste.jobs.m", { m: Math.round(m / 10) * 10 }) : t("waste.jobs.km", { km: one.format(m / 1000) });

  function card(j) {
    const mine = j.status === "accepted" && j.accepted_by === me;
    const badges = [el("span", { class: "job-kind", text: kindName(j.kind) })];
    if (j.escalated_at) badges.push(el("span", { class: "job-badge job-overdue", text: t("waste.jobs.overdue") }));
    if (j.status === "accepted")
      badges.push(el("span", { class: "job-badge job-accepted", text: mine ? t("waste.jobs.accepted_me") : t("waste.jobs.accepted_by", { user: j.accepted_by }) }));
    const facts = [el("span", { class: "job-age", text: age(j.raised_at) })];
    if (j.distance_m != null) facts.push(el("span", { class: "job-dist", text: distance(j.distance_m) }));
    const buttons = [];
    if (j.status === "open") buttons.push(el("button", { type: "button", class: "btn big", "data-action": "accept", text: t("waste.jobs.accept") }));
    if (mine) buttons.push(el("button", { type: "button", class: "btn big btn-close", "data-action": "close", text: t("waste.jobs.close") }));
    return el(
      "li",
      {
        class: "job job-" + j.kind + (j.escalated_at ? " is-overdue" : "") + (j.condition_cleared_at ? " is-cleared" : ""),
        "data-job": j.id,
        "data-kind": j.kind,
        "data-status": j.status,
      },
      el("div", { class: "job-top" }, badges),
      el("h2", { class: "job-station" }, OC.name(j.station_name)),
      el("p", { class: "job-compartment", text: compartment(j.compartment) }),
      el("p", { class: "job-what", text: what(j) }),
      j.condition_cleared_at ? el("p", { class: "job-cleared", text: "✓ " + t("waste.jobs.cleared", { time: OC.time(j.condition_cleared_at).slice(0, 5) }) }) : null,
      el("p", { class: "job-facts" }, facts),
      buttons.length ? el("div", { class: "job-buttons" }, buttons) : null
    );
  }

  function render() {
    list.replaceChildren(...jobs.map(card));
    document.getElementById("jobs-empty").hidden = jobs.length > 0;
    document.getElementById("jobs-count").textContent = "(" + jobs.length + ")";
  }

  async function load() {
    const q = new URLSearchParams();
    if (pos) {
      q.set("lat", pos.lat.toFixed(6));
      q.set("lon", pos.lon.toFixed(6));
    }
    try {
      const r = await api("/api/v1/waste/jobs?" + q);
      jobs = r.jobs;
      render();
      // Say what arrived since the last look (the most urgent first), by the station's name.
      const arrived = known ? jobs.filter((j) => !known.has(j.id)) : [];
      if (arrived.length) {
        const j = arrived[0];
        liveLine.textContent = t("waste.jobs.new", { kind: kindName(j.kind), station: j.station_name, time: OC.time(new Date()) });
      }
      known = new Set(jobs.map((j) => j.id));
      show(errorLine, "");
      fresh.mark();
    } catch (err) {
      show(errorLine, t("err.generic", { detail: err.detail }));
    }
  }
  const reload = OC.debounce(load, 200);

  /* --- accept and close ------------------------------------------------------------------ */
  const byId = (id) => jobs.find((j) => String(j.id) === String(id));

  async function accept(j, button) {
    button.disabled = true;
    try {
      await api("/api/v1/waste/jobs/" + j.id + "/accept", { method: "POST" });
      show(msg, t("waste.jobs.accepted_msg", { station: j.station_name }));
    } catch (err) {
      if (err.status === 409) show(msg, t(err.code === "job_closed" ? "waste.jobs.gone" : "waste.jobs.taken", { detail: err.detail }));
      else show(errorLine, t("err.generic", { detail: err.detail }));
    }
    await load();
  }

  function openClose(j) {
    closing = j;
    document.getElementById("close-h").textContent = t("waste.jobs.close_title", { station: j.station_name });
    document.getElementById("close-what").textContent = kindName(j.kind) + " · " + compartment(j.compartment);
    const needed = SERVICE.has(j.kind);
    kg.required = needed;
    kg.value = "";
    note.value = "";
    kg.removeAttribute("aria-invalid");
    document.getElementById("close-kg-hint").textContent = "(" + t(needed ? "waste.jobs.kg_required" : "waste.jobs.kg_optional") + ")";
    show(closeError, "");
    dialog.showModal();
    kg.focus();
  }

  function weight() {
    const raw = kg.value.trim();
    if (raw === "") return kg.required ? undefined : null;
    const n = Number(raw);
    return Number.isFinite(n) && n >= 0 && n <= 5000 ? n : undefined;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const j = closing;
    if (!j) return;
    const w = weight();
    if (w === undefined) {
      kg.setAttribute("aria-invalid", "true");
      show(closeError, t("waste.jobs.kg_bad"));
      kg.focus();
      return;
    }
    const submit = document.getElementById("close-submit");
    submit.disabled = true;
    try {
      await api("/api/v1/waste/jobs/" + j.id + "/close", { json: { collected_kg: w, note: note.value.trim() } });
      dialog.close();
      show(msg, t("waste.jobs.closed_msg", { station: j.station_name }));
      closing = null;
      await load();
    } catch (err) {
      if (err.status === 409) {
        dialog.close();
        show(msg, t("waste.jobs.gone", { detail: err.detail }));
        await load();
      } else {
        show(closeError, err.status === 422 ? t("waste.jobs.kg_bad") : t("err.generic", { detail: err.detail }));
      }
    } finally {
      submit.disabled = false;
    }
  });
  document.getElementById("close-cancel").addEventListener("click", () => dialog.close());
  kg.addEventListener("input", () => {
    kg.removeAttribute("aria-invalid");
    show(closeError, "");
  });

  list.addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-action]");
    if (!button) return;
    const j = byId(button.closest("[data-job]").dataset.job);
    if (!j) return;
    if (button.dataset.action === "accept") accept(j, button);
    else openClose(j);
  });

  /* --- where the truck is ---------------------------------------------------------------- */
  function located(p) {
    const next = { lat: p.coords.latitude, lon: p.coords.longitude };
    const moved = !pos || haversine(pos, next) > MOVED_M;
    pos = next;
    where.textContent = t("waste.jobs.where_on");
    if (moved) reload();
  }
  function haversine(a, b) {
    const r = Math.PI / 180;
    const s = Math.sin(((b.lat - a.lat) * r) / 2) ** 2 + Math.cos(a.lat * r) * Math.cos(b.lat * r) * Math.sin(((b.lon - a.lon) * r) / 2) ** 2;
    return 2 * 6371000 * Math.asin(Math.sqrt(s));
  }
  if (navigator.geolocation) {
    navigator.geolocation.watchPosition(located, () => (where.textContent = t("waste.jobs.where_off")), {
      enableHighAccuracy: false,
      maximumAge: 60000,
      timeout: 20000,
    });
  } else {
    where.textContent = t("waste.jobs.where_off");
  }

  /* --- live ------------------------------------------------------------------------------ */
  OC.live.on("waste.job", (ev) => {
    const p = ev.payload || {};
    if (p.action === "raised") {
      if (p.kind === "fire" && navigator.vibrate) navigator.vibrate([400, 150, 400]);
    }
    reload();
  });
  OC.live.on("connected", reload);
  setInterval(load, REFRESH_MS);
  setInterval(render, 60000); // the "open for" clocks
  load();
  OC.live.start();
})();
