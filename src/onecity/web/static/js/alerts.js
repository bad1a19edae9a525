/* The alert list: filter by state, acknowledge and resolve (who and when are kept), live. */
(function () {
  "use strict";
  const { page, t, el, api, show } = OC;
  const rows = document.getElementById("alert-rows");
  const stateSel = document.getElementById("state");
  const more = document.getElementById("more");
  const msg = document.getElementById("alerts-msg");
  const errorBox = document.getElementById("alerts-error");
  const fresh = new OC.Freshness("alerts");
  const REFRESH_MS = 30000;
  let shown = [];
  let cursor = null;
  let loadFailed = false; // only a failed load's message is cleared by the next good load
  let ticket = 0; // loads overlap (filter change, an action, the timer): only the newest may draw

  const by = (who, when) => (who ? t("alerts.by", { who: who, time: OC.dateTime(when) }) : "–");

  function actions(a) {
    if (!page.can_handle || a.state === "resolved") return [];
    const out = [];
    if (a.state === "open") out.push(el("button", { type: "button", class: "btn btn-small", "data-action": "acknowledge", text: t("alerts.ack"), onclick: () => act(a, "acknowledge") }));
    out.push(el("button", { type: "button", class: "btn btn-small btn-quiet", "data-action": "resolve", text: t("alerts.resolve"), onclick: () => act(a, "resolve") }));
    return out;
  }

  function row(a) {
    const cell = (label, ...kids) => el("td", { "data-label": t(label) }, ...kids);
    return el(
      "tr",
      { class: "sev-" + a.severity + " state-" + a.state, "data-alert-id": a.id },
      cell("col.severity", el("span", { class: "sev sev-" + a.severity, text: t("sev." + a.severity) })),
      cell("col.device", el("a", { href: "/devices/" + encodeURIComponent(a.device_id) }, OC.name(a.device_name))),
      cell("col.message", OC.alertMessage(a)),
      cell("col.opened", el("time", { datetime: a.opened_at, text: OC.dateTime(a.opened_at) })),
      cell("col.state", el("span", { class: "alert-state", text: t("state." + a.state) })),
      cell("col.acknowledged", by(a.acknowledged_by, a.acknowledged_at)),
      cell("col.resolved", by(a.resolved_by, a.resolved_at)),
      cell("col.actions", el("div", { class: "actions" }, actions(a)))
    );
  }

  function render() {
    rows.replaceChildren(...shown.map(row));
    document.getElementById("alerts-empty").hidden = shown.length > 0;
    document.getElementById("alert-count").textContent = "(" + shown.length + (cursor ? "+" : "") + ")";
    more.hidden = !cursor;
  }

  /* Reload from the top, keeping as many rows as are on screen. */
  async function load() {
    const q = new URLSearchParams({ state: stateSel.value, limit: String(Math.min(500, Math.max(100, shown.length))) });
    const mine = ++ticket;
    try {
      const r = await api("/api/v1/alerts?" + q);
      if (mine !== ticket) return; // a newer load was asked for: this answer is already old
      shown = r.items;
      cursor = r.next_cursor;
      render();
      if (loadFailed) show(errorBox, "");
      loadFailed = false;
      fresh.mark(r.as_of);
    } catch (err) {
      if (mine !== ticket) return;
      loadFailed = true;
      show(errorBox, t("err.generic", { detail: err.detail }));
    }
  }

  async function loadMore() {
    if (!cursor) return;
    const q = new URLSearchParams({ state: stateSel.value, cursor: String(cursor), limit: "100" });
    const mine = ticket;
    try {
      const r = await api("/api/v1/alerts?" + q);
      if (mine !== ticket) return; // the list was reloaded meanwhile: this page belongs to the old one
      shown = shown.concat(r.items);
      cursor = r.next_cursor;
      render();
    } catch (err) {
      show(errorBox, t("err.generic", { detail: err.detail }));
    }
  }

  async function act(a, action) {
    rows.querySelectorAll('[data-alert-id="' + a.id + '"] button').forEach((b) => (b.disabled = true));
    show(msg, "");
    show(errorBox, "");
    try {
      await api("/api/v1/alerts/" + a.id + "/" + action, { method: "POST" });
      show(msg, t("alerts.done_" + action, { id: a.id }));
    } catch (err) {
      // 409: someone else got there first; the server's sentence says what happened.
      show(errorBox, t("alerts.failed", { id: a.id, detail: err.detail }));
    }
    await load();
  }

  stateSel.addEventListener("change", () => {
    shown = [];
    load();
  });
  document.getElementById("filters").addEventListener("submit", (ev) => ev.preventDefault());
  more.addEventListener("click", loadMore);
  const reload = OC.debounce(load, 250);
  ["alert.opened", "alert.acknowledged", "alert.resolved"].forEach((type) => OC.live.on(type, reload));
  OC.live.on("connected", reload);
  setInterval(load, REFRESH_MS);
  load();
  OC.live.start();
})();
