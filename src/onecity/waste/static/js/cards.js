/* The card registry: search by number, filter by status, open a card. Kept current by the
   live stream (uploads move balances, reconciliation flags cards). */
(function () {
  "use strict";
  const { t, el, api, show } = OC;
  const W = OCW;
  const REFRESH_MS = 30000;
  const qIn = document.getElementById("c-q");
  const statusSel = document.getElementById("c-status");
  const rows = document.getElementById("card-rows");
  const more = document.getElementById("cards-more");
  const errorBox = document.getElementById("cards-error");
  const fresh = new OC.Freshness("waste-cards");
  let shown = [];
  let cursor = null;

  const start = W.params();
  qIn.value = start.get("q") || "";
  statusSel.value = start.get("status") || "";

  function row(c) {
    const cell = (label, cls, ...kids) => el("td", { "data-label": t(label), class: cls || null }, ...kids);
    return el(
      "tr",
      { "data-card": c.card_id, class: c.blocked ? "is-blocked" : c.flagged ? "is-flagged" : null },
      cell("waste.col.card", "nowrap", el("a", { href: W.cardHref(c.card_id), text: c.card_id })),
      cell("waste.col.status", null, W.statusBadges(c)),
      cell("waste.col.balance_now", "num", W.ntd(c.balance)),
      cell("waste.col.counter", "num", W.int(c.counter)),
      cell("waste.col.points", "num", W.int(c.points)),
      cell("waste.col.txns", "num", W.int(c.txn_count)),
      cell("waste.col.missing", "num" + (c.missing > 0 ? " warn-text" : ""), W.int(c.missing)),
      cell("waste.col.last_txn", "nowrap", c.last_txn_at ? OC.dateTime(c.last_txn_at) : t("waste.never"))
    );
  }

  function render() {
    rows.replaceChildren(...shown.map(row));
    document.getElementById("cards-empty").hidden = shown.length > 0;
    document.getElementById("card-count").textContent = "(" + shown.length + (cursor ? "+" : "") + ")";
    more.hidden = !cursor;
  }

  function query(extra) {
    const values = { q: qIn.value.trim(), status: statusSel.value };
    W.setParams(values);
    const q = new URLSearchParams(extra);
    for (const [k, v] of Object.entries(values)) if (v) q.set(k, v);
    return q;
  }

  async function load() {
    try {
      const r = await api("/api/v1/waste/cards?" + query({ limit: String(Math.min(500, Math.max(100, shown.length))) }));
      shown = r.items;
      cursor = r.next_cursor;
      render();
      show(errorBox, "");
      fresh.mark();
    } catch (err) {
      show(errorBox, t("err.generic", { detail: err.detail }));
    }
  }

  async function loadMore() {
    if (!cursor) return;
    try {
      const r = await api("/api/v1/waste/cards?" + query({ limit: "100", cursor: cursor }));
      shown = shown.concat(r.items);
      cursor = r.next_cursor;
      render();
    } catch (err) {
      show(errorBox, t("err.generic", { detail: err.detail }));
    }
  }

  const refilter = () => {
    shown = [];
    load();
  };
  document.getElementById("card-filters").addEventListener("submit", (ev) => {
    ev.preventDefault();
    refilter();
  });
  qIn.addEventListener("input", OC.debounce(refilter, 300));
  statusSel.addEventListener("change", refilter);
  more.addEventListener("click", loadMore);
  const reload = OC.debounce(load, 500);
  ["waste.transactions", "waste.card_flagged", "waste.card_blocked", "waste.card_unblocked", "connected"].forEach(
    (type) => OC.live.on(type, reload),
  );
  setInterval(load, REFRESH_MS);
  load();
  OC.live.start();
})();
