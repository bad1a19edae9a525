/* The blocklist the stations download: cards on it now (who put them there, why, when) and
   every change, newest first. */
(function () {
  "use strict";
  const { t, el, api, show } = OC;
  const W = OCW;
  const REFRESH_MS = 30000;
  const RECONCILER = "reconciliation";
  const fresh = new OC.Freshness("waste-blocklist");

  const by = (actor) => (actor === RECONCILER ? el("em", { text: t("waste.blocklist.reconciliation") }) : actor);
  const card = (id) => el("a", { href: W.cardHref(id), text: id });
  const cell = (label, cls, ...kids) => el("td", { "data-label": t(label), class: cls || null }, ...kids);
  const when = (v) => el("time", { datetime: v, text: OC.dateTime(v) });

  function render(r) {
    document.getElementById("bl-version").textContent = t("waste.blocklist.version", { v: r.version });
    document.getElementById("bl-count").textContent = "(" + r.blocked.length + ")";
    document.getElementById("bl-now").replaceChildren(
      ...r.blocked.map((b) =>
        el(
          "tr",
          { "data-card": b.card_id },
          cell("waste.col.card", "nowrap", card(b.card_id)),
          cell("waste.col.reason", "reason", b.reason),
          cell("waste.col.by", null, by(b.actor)),
          cell("waste.col.when", "nowrap", when(b.at)),
          cell("waste.col.version", "num", W.int(b.version))
        )
      )
    );
    document.getElementById("bl-none").hidden = r.blocked.length > 0;
    document.getElementById("bl-history").replaceChildren(
      ...r.history.map((b) =>
        el(
          "tr",
          { "data-version": b.version },
          cell("waste.col.version", "num", W.int(b.version)),
          cell("waste.col.card", "nowrap", card(b.card_id)),
          cell("waste.col.change", null, el("span", { class: "status " + (b.blocked ? "status-blocked" : "status-ok"), text: t(b.blocked ? "waste.blocklist.blocked" : "waste.blocklist.unblocked") })),
          cell("waste.col.reason", "reason", b.reason),
          cell("waste.col.by", null, by(b.actor)),
          cell("waste.col.when", "nowrap", when(b.at))
        )
      )
    );
    document.getElementById("bl-history-none").hidden = r.history.length > 0;
  }

  async function load() {
    try {
      render(await api("/api/v1/waste/blocklist"));
      show(document.getElementById("bl-error"), "");
      fresh.mark();
    } catch (err) {
      show(document.getElementById("bl-error"), t("err.generic", { detail: err.detail }));
    }
  }

  const reload = OC.debounce(load, 300);
  ["waste.card_flagged", "waste.card_blocked", "waste.card_unblocked", "connected"].forEach((type) =>
    OC.live.on(type, reload),
  );
  setInterval(load, REFRESH_MS);
  load();
  OC.live.start();
})();
