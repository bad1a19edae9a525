/* RPIC's live-site monitor: today's and tomorrow's works on a map coloured by type (tomorrow
   dashed, a site being dug without a live feed ringed in red), the share of dug sites watched
   live as the headline, the sites without a feed, and each site's feed and photo stages in
   its popup. Reloaded every 30 s and whenever a site or permit event arrives. */
(function () {
  "use strict";
  const { t, el, show } = OC;
  const R = window.OCR;
  const REFRESH_MS = 30000;
  const STAGES = ["before", "cutting", "digging", "backfill", "restoration"];
  const NOFEED = "#cf222e";
  const fresh = new OC.Freshness("roadworks-monitor");

  const mapEl = document.getElementById("rw-map");
  const errorLine = document.getElementById("rw-error");
  const map = R.cityMap(mapEl);
  let drawn = null;
  let fitted = false;
  let openRef = null;
  // Which works' popup is open, so a reload can open it again after redrawing.
  map.on("popupopen", (e) => {
    const box = e.popup.getElement().querySelector("[data-ref]");
    openRef = box ? box.dataset.ref : null;
  });
  map.on("popupclose", () => (openRef = null));
  R.legend(document.getElementById("rw-legend"));

  const watchedDown = (p) => p.status === "in_progress" && !p.live;

  function feedText(p) {
    if (p.live) return t("roadworks.monitor.feed_live") + " · " + t("roadworks.monitor.last_frame", { time: OC.time(p.last_frame_at) });
    if (!p.camera_url) return t("roadworks.monitor.no_camera");
    if (!p.last_frame_at) return t("roadworks.monitor.never");
    return t("roadworks.monitor.feed_down") + " · " + t("roadworks.monitor.last_frame", { time: OC.dateTime(p.last_frame_at) });
  }

  function extraRows(p) {
    const row = (label, ...value) => [el("dt", { text: t(label) }), el("dd", {}, ...value)];
    const stages = el(
      "ul",
      { class: "rw-stages" },
      STAGES.map((st) => {
        const n = (p.photos || {})[st] || 0;
        return el("li", { class: n ? "done" : "todo", "data-stage": st }, el("span", { "aria-hidden": "true", text: n ? "✓ " : "○ " }), t("roadworks.monitor.stage." + st) + (n > 1 ? " ×" + n : ""));
      })
    );
    return [
      row("roadworks.monitor.feed", el("span", { class: p.live ? "feed-live" : "feed-down", text: feedText(p) })),
      p.camera_url ? row("roadworks.monitor.camera", el("code", { class: "rw-cam", text: p.camera_url })) : [],
      row("roadworks.monitor.photos", stages),
    ].flat();
  }

  function style(p) {
    const look = {};
    // Tomorrow's works: outlined in their colour, dashed, nearly empty.
    if (p.when === "tomorrow") Object.assign(look, { dashArray: "4 3", fillOpacity: 0.15, dotOpacity: 0.3, ring: R.color(p.purpose) });
    if (watchedDown(p)) Object.assign(look, { ring: NOFEED });
    return look;
  }

  function nofeedItem(p) {
    return el(
      "li",
      { class: "rw-item", "data-ref": p.ref },
      el("h3", { class: "rw-item-title" }, R.swatch(p.purpose), p.ref + " · ", R.title(p)),
      el("p", { class: "rw-item-who" }, R.joined([R.applicant(p), R.contractor(p)])),
      el("p", { class: "rw-item-why feed-down", text: feedText(p) }),
      el("button", { type: "button", class: "link-btn rw-show", onclick: () => R.focus(map, drawn.byRef.get(p.ref)), text: t("roadworks.map.show") })
    );
  }

  function overrunItem(p) {
    return el(
      "li",
      { class: "rw-item", "data-ref": p.ref },
      el("h3", { class: "rw-item-title" }, R.swatch(p.purpose), p.ref + " · ", R.title(p)),
      el("p", { class: "rw-item-who" }, R.joined([R.applicant(p), R.contractor(p)])),
      el("p", { class: "rw-item-why feed-down", text: t("roadworks.monitor.overrun_since", { end: OC.date(p.end_date) }) }),
      el("a", { class: "link-btn", href: "/roadworks/permits/" + encodeURIComponent(p.ref), text: t("roadworks.monitor.open_permit") })
    );
  }

  function render(doc) {
    const s = doc.summary;
    const share = document.getElementById("rw-share");
    share.textContent = s.live_share_pct == null ? "–" : OC.num(s.live_share_pct) + "%";
    const box = document.getElementById("rw-share-box");
    box.classList.toggle("bad", s.live_share_pct != null && s.live_share_pct < 90);
    box.classList.toggle("warn", s.live_share_pct != null && s.live_share_pct >= 90 && s.live_share_pct < 99);
    document.getElementById("rw-share-of").textContent =
      s.active_sites ? t("roadworks.monitor.share_of", { live: s.live_feeds, active: s.active_sites }) : t("roadworks.monitor.no_active");
    document.getElementById("rw-active").textContent = OC.num(s.active_sites);
    document.getElementById("rw-live").textContent = OC.num(s.live_feeds);
    const props = doc.features.map((f) => f.properties);
    document.getElementById("rw-tomorrow").textContent = OC.num(props.filter((p) => p.when === "tomorrow").length);

    const byRef = new Map(props.map((p) => [p.ref, p]));
    const missing = s.sites_without_feed.map((r) => byRef.get(r)).filter(Boolean);
    document.getElementById("rw-nofeed").replaceChildren(...missing.map(nofeedItem));
    document.getElementById("rw-nofeed-none").hidden = missing.length > 0;
    document.getElementById("rw-nofeed-count").textContent = "(" + missing.length + ")";
    const late = (s.overrunning || []).map((r) => byRef.get(r)).filter(Boolean);
    document.getElementById("rw-overrun").replaceChildren(...late.map(overrunItem));
    document.getElementById("rw-overrun-none").hidden = late.length > 0;
    document.getElementById("rw-overrun-count").textContent = "(" + late.length + ")";

    const reopen = openRef;
    R.clear(map, drawn);
    drawn = R.drawWorks(map, doc.features, style, (p) => R.popup(p, extraRows(p)));
    mapEl.dataset.features = String(doc.features.length);
    if (reopen && drawn.byRef.has(reopen)) drawn.byRef.get(reopen).openPopup();
    if (!fitted && doc.features.length) {
      map.fitBounds(drawn.group.getBounds(), { padding: [30, 30], maxZoom: 15 });
      fitted = true;
    }
  }

  async function load() {
    try {
      const doc = await OC.api("/api/v1/roadworks/monitor");
      render(doc);
      show(errorLine, "");
      fresh.mark(doc.as_of);
    } catch (err) {
      show(errorLine, t("roadworks.monitor.error", { detail: err.detail }));
    }
  }

  const reload = OC.debounce(load, 500);
  ["roadworks.site", "roadworks.permit", "connected"].forEach((type) => OC.live.on(type, reload));
  setInterval(load, REFRESH_MS);
  load();
  window.OCR.startLive();
})();
