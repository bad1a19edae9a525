/* The live transaction list with its filters, the ledger's totals and the stations: reloaded
   when a station uploads (SSE "waste.transactions"), rows that arrived while the page was open
   highlighted, and a line for screen readers saying what came in. */
(function () {
  "use strict";
  const { t, el, api, show } = OC;
  const W = OCW;
  const REFRESH_MS = 30000;
  const PAGE = 50;
  const NEW_MS = 60000;
  const COLS = ["time", "kind", "station", "card", "what", "amount", "balance", "batch", "received"];

  const form = document.getElementById("txn-filters");
  const f = {
    terminal_id: document.getElementById("f-station"),
    card_id: document.getElementById("f-card"),
    kind: document.getElementById("f-kind"),
    day: document.getElementById("f-day"),
  };
  const rows = document.getElementById("txn-rows");
  const newer = document.getElementById("txn-newer");
  const older = document.getElementById("txn-older");
  const pageLine = document.getElementById("txn-page");
  const liveLine = document.getElementById("txn-live");
  const txnError = document.getElementById("txn-error");
  const cardError = document.getElementById("f-card-error");
  const fresh = { txns: new OC.Freshness("waste-txns"), ledger: new OC.Freshness("waste-ledger"), stations: new OC.Freshness("waste-stations") };

  const names = new Map(); // station id -> name
  const stationName = (id) => names.get(id) || id;
  let shown = [];
  // Page n starts at cursors[n] (null: the newest); the API's next_cursor opens the next one.
  let cursors = [null];
  let at = 0;
  let cursor = null; // the page after this one, if any
  const arrived = new Map(); // txn id -> when the live stream announced it

  // Filters from the address (a link from a card or a station), kept in it as they change.
  const start = W.params();
  for (const k of Object.keys(f)) if (start.get(k)) f[k].value = start.get(k);
  if (start.get("terminal_id")) f.terminal_id.append(el("option", { value: start.get("terminal_id"), text: start.get("terminal_id") }));
  f.terminal_id.value = start.get("terminal_id") || "";

  function filters() {
    const card = f.card_id.value.trim();
    if (card && !W.CARD.test(card)) {
      f.card_id.setAttribute("aria-invalid", "true");
      show(cardError, t("waste.f.card_bad"));
      return null;
    }
    f.card_id.removeAttribute("aria-invalid");
    show(cardError, "");
    return { terminal_id: f.terminal_id.value, card_id: card, kind: f.kind.value, day: f.day.value };
  }

  function render() {
    const now = Date.now();
    rows.replaceChildren(
      ...shown.map((x) => {
        const tr = W.txnRow(x, COLS, stationName);
        if (now - (arrived.get(x.id) || 0) < NEW_MS) tr.classList.add("is-new");
        return tr;
      })
    );
    document.getElementById("txn-empty").hidden = shown.length > 0;
    const first = at * PAGE + 1;
    const range = shown.length ? t("waste.txns.range", { from: W.int(first), to: W.int(first + shown.length - 1) }) : "";
    document.getElementById("txn-count").textContent = range ? "(" + range + ")" : "";
    pageLine.textContent = shown.length ? t(cursor ? "waste.txns.page_more" : "waste.txns.page_last", { range: range, page: W.int(at + 1) }) : "";
    newer.disabled = at === 0;
    older.disabled = !cursor;
    newer.parentElement.hidden = at === 0 && !cursor;
  }

  function query(extra) {
    const values = filters();
    if (!values) return null;
    W.setParams(values);
    const q = new URLSearchParams(extra);
    for (const [k, v] of Object.entries(values)) if (v) q.set(k, v);
    return q;
  }

  async function load() {
    const extra = { limit: String(PAGE) };
    if (cursors[at]) extra.cursor = cursors[at];
    const q = query(extra);
    if (!q) return;
    try {
      const r = await api("/api/v1/waste/transactions?" + q);
      shown = r.items;
      cursor = r.next_cursor;
      render();
      show(txnError, "");
      fresh.txns.mark();
    } catch (err) {
      show(txnError, t("err.generic", { detail: err.detail }));
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

  function firstPage() {
    cursors = [null];
    at = 0;
    shown = [];
    load();
  }

  async function loadLedger() {
    try {
      const r = await api("/api/v1/waste/ledger");
      const state = document.getElementById("ledger-state");
      state.className = "ledger-state " + (r.balanced ? "is-balanced" : "is-unbalanced");
      state.textContent = r.balanced ? "✓ " + t("waste.ledger.balanced") : "✗ " + t("waste.ledger.unbalanced");
      document.getElementById("l-sum").textContent = W.ntd(r.sum);
      document.getElementById("l-cards").textContent = W.ntd(r.cards_value);
      document.getElementById("l-unexplained").textContent = W.ntd(r.unexplained_card_value);
      document.getElementById("l-txns").textContent = W.int(r.txns);
      document.getElementById("s-sum").classList.toggle("bad", r.sum !== 0);
      document.getElementById("s-unexplained").classList.toggle("bad", r.unexplained_card_value !== 0);
      document.getElementById("ledger-rows").replaceChildren(
        ...r.accounts.map((a) =>
          el(
            "tr",
            { "data-account": a.account },
            el("th", { scope: "row" }, t("waste.account." + a.account), " ", el("span", { class: "sub-inline", text: a.account })),
            el("td", { class: "num", text: W.ntd(a.total) })
          )
        )
      );
      show(document.getElementById("ledger-error"), "");
      fresh.ledger.mark();
    } catch (err) {
      show(document.getElementById("ledger-error"), t("err.generic", { detail: err.detail }));
    }
  }

  async function loadStations() {
    try {
      const items = await api("/api/v1/waste/stations");
      const chosen = f.terminal_id.value;
      names.clear();
      items.forEach((s) => names.set(s.id, s.name));
      f.terminal_id.replaceChildren(
        el("option", { value: "", text: t("waste.f.all_stations") }),
        ...items.map((s) => el("option", { value: s.id, lang: OC.cfg.data_language, text: s.name + " (" + s.id + ")" }))
      );
      if (chosen && !names.has(chosen)) f.terminal_id.append(el("option", { value: chosen, text: chosen }));
      f.terminal_id.value = chosen;
      document.getElementById("station-rows").replaceChildren(
        ...items.map((s) => {
          const conn = ["online", "offline"].includes(s.connectivity) ? s.connectivity : "unknown";
          return el(
            "tr",
            { "data-station": s.id },
            el("td", { "data-label": t("waste.col.station") }, el("a", { class: "station-name", href: "/waste/transactions?terminal_id=" + encodeURIComponent(s.id) }, OC.name(s.name)), el("br"), el("span", { class: "sub-inline", text: s.id })),
            el("td", { "data-label": t("waste.col.district") }, OC.districtName(s)),
            el("td", { "data-label": t("device.connectivity") }, el("span", { class: "conn-" + conn, text: t("conn." + conn) })),
            el("td", { "data-label": t("waste.stations.last_upload"), class: "nowrap", text: s.last_upload_at ? OC.dateTime(s.last_upload_at) : t("waste.never") }),
            el("td", { "data-label": t("waste.stations.today"), class: "num", text: W.int(s.txns_today) }),
            el(
              "td",
              { "data-label": t("waste.stations.mismatches"), class: "num" },
              s.open_mismatches > 0
                ? el("a", { class: "bad-link", href: "/waste/settlements?terminal_id=" + encodeURIComponent(s.id), text: W.int(s.open_mismatches) })
                : "0"
            )
          );
        })
      );
      document.getElementById("station-count").textContent = "(" + items.length + ")";
      document.getElementById("stations-empty").hidden = items.length > 0;
      show(document.getElementById("stations-error"), "");
      fresh.stations.mark();
      render(); // station names in the rows
    } catch (err) {
      show(document.getElementById("stations-error"), t("err.generic", { detail: err.detail }));
    }
  }

  const reloadAll = OC.debounce(() => {
    if (at === 0) load(); // an older page stays as it is while new ones arrive
    else fresh.txns.mark();
    loadLedger();
    loadStations();
  }, 250);

  OC.live.on("waste.transactions", (ev) => {
    const p = ev.payload || {};
    (p.last || []).forEach((x) => arrived.set(x.txn_id, Date.now()));
    liveLine.replaceChildren(...W.said("waste.txns.arrived", { n: p.count, station: stationName(p.terminal_id), time: OC.time(ev.at) }, ["station"]));
    reloadAll();
  });
  OC.live.on("waste.settlement_mismatch", OC.debounce(loadStations, 250));
  OC.live.on("connected", reloadAll);

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    firstPage();
  });
  const refilter = firstPage;
  [f.terminal_id, f.kind, f.day].forEach((x) => x.addEventListener("change", refilter));
  f.card_id.addEventListener("input", OC.debounce(refilter, 400));
  form.addEventListener("reset", () => setTimeout(refilter, 0));
  newer.addEventListener("click", () => turn(at - 1));
  older.addEventListener("click", () => turn(at + 1));

  setInterval(() => {
    if (at === 0) load();
    else fresh.txns.mark();
    loadLedger();
    loadStations();
  }, REFRESH_MS);
  loadStations();
  load();
  loadLedger();
  OC.live.start();
})();
