/* OneCity dashboard, shared by every page: config and strings from the server, API calls
   (a 401 anywhere sends you to the login page with the reason), the live event stream,
   and the "updated HH:MM:SS · LIVE/STALE" indicator every panel carries. */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("oc-config").textContent);
  const OC = (window.OC = { cfg: cfg, page: cfg.page || {} });

  OC.t = function (key, vars) {
    const s = cfg.messages[key];
    if (s === undefined) return key;
    return s.replace(/\{(\w+)\}/g, (m, k) => (vars && k in vars ? String(vars[k]) : m));
  };
  /* A {"zh-TW": ..., "en": ...} name in the page's language. */
  OC.local = (obj) => (obj ? obj[cfg.lang] || obj.en || Object.values(obj)[0] || "" : "");
  OC.typeName = (type) => (cfg.messages["type." + type] ? OC.t("type." + type) : type);
  OC.deptName = (code) => {
    const d = cfg.city.departments[code];
    return d ? OC.local(d) : code;
  };

  /* Times are shown in the city's time zone, whatever the browser's. */
  const base = { timeZone: cfg.timezone, hourCycle: "h23" };
  const fmtTime = new Intl.DateTimeFormat(cfg.lang, { ...base, hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const fmtDate = new Intl.DateTimeFormat(cfg.lang, {
    ...base, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  OC.parseTime = (v) => {
    if (v instanceof Date) return v;
    const s = String(v);
    return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : s + "Z");
  };
  OC.time = (v) => (v ? fmtTime.format(OC.parseTime(v)) : "");
  OC.dateTime = (v) => (v ? fmtDate.format(OC.parseTime(v)) : "");
  /* Whether the signed-in role holds a permission ("waste:manage"); the server decides. */
  OC.can = (perm) => (OC.page.can || []).indexOf(perm) >= 0;
  OC.num = (v) => (typeof v === "number" ? v.toLocaleString(cfg.lang, { maximumFractionDigits: 3 }) : String(v));

  /* Numbers and units in the page's language: a share 0.808 is "81%", not a fraction. */
  OC.percent = (share, digits) =>
    typeof share === "number"
      ? share.toLocaleString(cfg.lang, { style: "percent", maximumFractionDigits: digits || 0 })
      : "–";
  OC.kg = (v) => (typeof v === "number" ? OC.t("unit.kg", { n: v.toLocaleString(cfg.lang, { maximumFractionDigits: 1 }) }) : "–");
  OC.money = (v, currency) =>
    typeof v === "number"
      ? v.toLocaleString(cfg.lang, { style: "currency", currency: currency || cfg.currency || "TWD", maximumFractionDigits: 0 })
      : "–";
  /* A date with its year: a calendar date ("2026-12-05") as it is, an instant in the city's
     time zone. */
  const dayOpts = { year: "numeric", month: "2-digit", day: "2-digit" };
  const fmtDay = new Intl.DateTimeFormat(cfg.lang, { ...dayOpts, timeZone: cfg.timezone });
  const fmtCalendarDay = new Intl.DateTimeFormat(cfg.lang, { ...dayOpts, timeZone: "UTC" });
  OC.date = (v) => {
    if (!v) return "";
    const s = String(v);
    return /^\d{4}-\d\d-\d\d$/.test(s) ? fmtCalendarDay.format(new Date(s + "T00:00:00Z")) : fmtDay.format(OC.parseTime(v));
  };

  /* A proper name that exists in one language only (an address, a station or road name from the
     city's open data): it keeps its own language, said with a lang attribute, so screen readers
     read it right and the pages' language check (tests/e2e) knows it is a name, not a slip. */
  OC.name = (text, lang) =>
    OC.el("span", { class: "proper-name", lang: lang || cfg.data_language || cfg.lang, text: text == null ? "" : String(text) });

  /* Where a device (or anything with `district` and `district_names`) is: the district's name
     in the page's language, else its one name marked as a name. */
  OC.districtName = (x) => {
    const names = x && x.district_names;
    if (names && names[cfg.lang]) return names[cfg.lang];
    return x && x.district ? OC.name(x.district) : "–";
  };

  /* Leaflet's own controls speak English ("Zoom in", "Close popup"). Pages load Leaflet after
     this file, so its words are set the moment it arrives (it ends by assigning window.L). */
  if (!("L" in window)) {
    Object.defineProperty(window, "L", {
      configurable: true,
      get: () => undefined,
      set: (lib) => {
        Object.defineProperty(window, "L", { value: lib, writable: true, configurable: true });
        lib.Control.Zoom.mergeOptions({ zoomInTitle: OC.t("map.zoom_in"), zoomOutTitle: OC.t("map.zoom_out") });
        const layout = lib.Popup.prototype._initLayout; // the vendored 1.9.4's, checked in tests/e2e
        lib.Popup.prototype._initLayout = function () {
          layout.call(this);
          if (this._closeButton) this._closeButton.setAttribute("aria-label", OC.t("map.close_popup"));
        };
      },
    });
  }

  /* Build DOM without innerHTML, so no server string is ever parsed as markup. */
  OC.el = function (tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids.flat()) if (kid != null && kid !== false) e.append(kid);
    return e;
  };
  OC.show = (el, text) => {
    if (!el) return;
    el.textContent = text || "";
    el.hidden = !text;
  };
  OC.debounce = (fn, ms) => {
    let timer = null;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
  };

  class ApiError extends Error {
    constructor(status, code, detail, field) {
      super(detail || code);
      this.status = status;
      this.code = code;
      this.detail = detail || code;
      this.field = field || null;
    }
  }
  OC.ApiError = ApiError;

  OC.toLogin = function (reason) {
    const here = location.pathname + location.search;
    location.assign("/login?next=" + encodeURIComponent(here) + "&reason=" + encodeURIComponent(reason || "default"));
  };

  /* Requests the person did not cause (timer polls of a page nobody is using) say so with
     X-OneCity-Background: 1, so the server does not count them as activity and an unattended
     dashboard still reaches the idle limit. Any input in the last minute makes requests
     foreground again. Loading the page was itself a request (it refreshed the session), so
     the clock starts with no input at all. */
  const ACTIVE_MS = 60000;
  let lastInput = -Infinity;
  const markInput = () => (lastInput = Date.now());
  ["pointerdown", "keydown", "wheel", "touchstart", "scroll"].forEach((type) =>
    window.addEventListener(type, markInput, { capture: true, passive: true })
  );
  OC.idle = () => Date.now() - lastInput >= ACTIVE_MS;

  /* fetch() with the session cookie and the API's {"error","detail","field"} errors. */
  OC.api = async function (path, opts) {
    opts = opts || {};
    const init = { credentials: "same-origin", headers: { Accept: "application/json" }, method: opts.method || "GET" };
    if (OC.idle()) init.headers["X-OneCity-Background"] = "1";
    if (opts.signal) init.signal = opts.signal;
    if (opts.json !== undefined) {
      init.method = opts.method || "POST";
      init.body = JSON.stringify(opts.json);
      init.headers["Content-Type"] = "application/json";
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError(0, "network", OC.t("err.network"));
    }
    if (res.status === 204) return null;
    const body = await res.json().catch(() => ({}));
    if (res.ok) return body;
    if (res.status === 401 && !opts.noRedirect) OC.toLogin(body.error);
    throw new ApiError(res.status, body.error || "http_error", body.detail || res.statusText, body.field);
  };

  /* One EventSource per page. Pages subscribe by event type (a module's too, such as
     "waste.transactions"); "connected" fires on every (re)connect, when a page should reload
     what it shows to cover anything missed. */
  const handlers = {};
  const LOCAL = new Set(["connected", "disconnected"]); // raised here, not by the server
  const live = (OC.live = { connected: false, source: null });
  const emit = (type, data) => (handlers[type] || []).forEach((fn) => fn(data));
  function listen(es, type) {
    es.addEventListener(type, (ev) => {
      let data;
      try {
        data = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      emit(type, data);
    });
  }
  live.on = (type, fn) => {
    if (!handlers[type]) {
      handlers[type] = [];
      if (live.source && !LOCAL.has(type)) listen(live.source, type);
    }
    handlers[type].push(fn);
  };
  live.start = function () {
    const es = new EventSource("/api/v1/events/stream");
    live.source = es;
    es.addEventListener("hello", () => {
      live.connected = true;
      retryMs = 3000;
      emit("connected");
    });
    // The server ends the stream when the session ends (logout elsewhere, idle limit).
    es.addEventListener("session_ended", (ev) => {
      es.close();
      let code = "session_ended";
      try {
        code = JSON.parse(ev.data).error || code;
      } catch (_) {
        /* keep the generic reason */
      }
      OC.toLogin(code);
    });
    Object.keys(handlers)
      .filter((type) => !LOCAL.has(type))
      .forEach((type) => listen(es, type));
    es.onerror = () => {
      live.connected = false;
      emit("disconnected");
      // CLOSED means the server refused the stream (not a dropped line, which the browser
      // retries by itself): find out whether the session ended, else try again later.
      if (es.readyState === EventSource.CLOSED) later();
    };
  };
  let retryMs = 3000;
  function later() {
    setTimeout(recheck, retryMs);
    retryMs = Math.min(retryMs * 2, 60000); // a role without the stream must not hammer it
  }
  async function recheck() {
    try {
      await OC.api("/api/v1/auth/me");
      live.start();
    } catch (err) {
      if (err.status !== 401) later();
    }
  }

  /* "updated HH:MM:SS" plus LIVE (stream connected, data younger than the window) or STALE.
     Every element with data-fresh=NAME shows the same clock; its panel dims when stale. */
  const clocks = [];
  class Freshness {
    constructor(name) {
      this.els = Array.from(document.querySelectorAll('[data-fresh="' + name + '"]'));
      this.received = 0;
      this.asOf = null;
      clocks.push(this);
      this.render();
    }
    mark(asOf) {
      this.received = Date.now();
      this.asOf = asOf || new Date().toISOString();
      this.render();
    }
    get live() {
      return live.connected && this.received > 0 && Date.now() - this.received < cfg.live_window_s * 1000;
    }
    render() {
      const state = this.live ? "live" : "stale";
      const when = this.asOf ? OC.t("fresh.updated", { time: OC.time(this.asOf) }) : OC.t("fresh.never");
      for (const el of this.els) {
        const time = el.querySelector(".fresh-time");
        if (time.textContent !== when) time.textContent = when;
        const panel = el.closest(".panel");
        if (panel) panel.classList.toggle("is-stale", state === "stale");
        if (el.dataset.state === state) continue;
        el.dataset.state = state;
        const badge = el.querySelector(".badge");
        badge.className = "badge badge-" + state;
        badge.textContent = OC.t("fresh." + state);
        badge.title = OC.t("fresh." + state + "_hint", { s: cfg.live_window_s });
      }
    }
  }
  OC.Freshness = Freshness;
  const renderAll = () => clocks.forEach((c) => c.render());
  setInterval(renderAll, 1000);
  live.on("connected", renderAll);
  live.on("disconnected", renderAll);

  /* The navigation: one system's menu open at a time, closed by Escape or a click elsewhere;
     on a phone the whole list folds under the menu button. */
  const nav = document.getElementById("nav");
  if (nav) {
    const menus = Array.from(nav.querySelectorAll(".nav-group details"));
    menus.forEach((d) =>
      d.addEventListener("toggle", () => d.open && menus.forEach((o) => o !== d && (o.open = false)))
    );
    const closeAll = () => menus.forEach((d) => (d.open = false));
    document.addEventListener("click", (ev) => !nav.contains(ev.target) && closeAll());
    document.addEventListener("keydown", (ev) => ev.key === "Escape" && closeAll());
    const toggle = nav.querySelector(".nav-toggle");
    toggle.addEventListener("click", () => {
      const open = nav.classList.toggle("is-open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }

  const logout = document.getElementById("logout");
  if (logout) {
    logout.addEventListener("click", async () => {
      logout.disabled = true;
      try {
        await OC.api("/api/v1/auth/logout", { method: "POST", noRedirect: true });
      } catch (_) {
        /* already logged out is fine: the login page is where we go either way */
      }
      location.assign("/login?reason=logged_out");
    });
  }
})();
