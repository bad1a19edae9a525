/* The card registry: search by number, filter by status, open a card. Kept current by the
   live stream (uploads move balances, reconciliation flags cards). */
(function () {
  "use strict";
  const { t, el, api, show } = OC;
  const W = OCW;
  const REFRESH_MS = 30000;
  const PAGE = 50;
  const qIn = document.getElementById("c-q");
  const statusSel = document.getElementById("c-status");
  const rows = document.getElementById("card-rows");
  const prev = document.getElementById("cards-prev");
  const next = document.getElementById("cards-next");
  const pageLine = document.getElementById("cards-page");
  const errorBox = document.getElementById("cards-error");
  const fresh = new OC.Freshness("waste-cards");
  let shown = [];
  // Page n starts at cursors[n] (null: the first); the API's next_cursor opens the next one.
  let cursors = [null];
  let at = 0;
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
    const first = at * PAGE + 1;
    const range = shown.length ? t("waste.cards.range", { from: W.int(first), to: W.int(first + shown.length - 1) }) : "";
    document.getElementById("card-count").textContent = range ? "(" + range + ")" : "";
    pageLine.textContent = shown.length ? t(cursor ? "waste.cards.page_more" : "waste.cards.page_last", { range: range, page: W.int(at + 1) }) : "";
    prev.disabled = at === 0;
    next.disabled = !cursor;
    prev.parentElement.hidden = at === 0 && !cursor;
  }

  function query(extra) {
    const values = { q: qIn.value.trim(), status: statusSel.value };
    W.setParams(values);
    const q = new URLSearchParams(extra);
    for (const [k, v] of Object.entries(values)) if (v) q.set(k, v);
    return q;
  }

  async function load() {
    const extra = { limit: String(PAGE) };
    if (cursors[at]) extra.cursor = cursors[at];
    try {
      const r = await api("/api/v1/waste/cards?" + query(extra));
      shown = r.items;
      cursor = r.next_cursor;
      render();
      show(errorBox, "");
      fresh.mark();
    } catch (err) {
      show(errorBox, t("err.generic", { detail: err.detail }));
    }
  }

  function turn(to) {
    if (to < 0 || to > cursors.length) return;
    if (to === cursors.length) {
      if (!cursor) return;
      cursors.push(cursor);
    }
    at = to;
    load();
  }

  const refilter = () => {
    cursors = [null];
    at = 0;
    shown = [];
    load();
  };
  document.getElementById("card-filters").addEventListener("submit", (ev) => {
    ev.preventDefault();
    refilter();
  });
  qIn.addEventListener("input", OC.debounce(refilter, 300));
  statusSel.addEventListener("change", refilter);
  prev.addEventListener("click", () => turn(at - 1));
  next.addEventListener("click", () => turn(at + 1));
  const reload = OC.debounce(load, 500);
  ["waste.transactions", "waste.card_flagged", "waste.card_blocked", "waste.card_unblocked", "connected"].forEach(
    (type) => OC.live.on(type, reload),
  );
  setInterval(load, REFRESH_MS);
  load();
  OC.live.start();
})();
