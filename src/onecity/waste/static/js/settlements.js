/* Settlements per station and batch: what the station reported against what the server
   received, mismatches first with the differences spelled out. */
(function () {
  "use strict";
  const { t, el, api, show } = OC;
  const W = OCW;
  const REFRESH_MS = 30000;
  const statusSel = document.getElementById("st-status");
  const station = document.getElementById("st-station");
  const fresh = new OC.Freshness("waste-settlements");

  const start = W.params();
  statusSel.value = start.get("status") || "";
  station.value = start.get("terminal_id") || "";

  /* Totals as a small list; a figure that differs from the other side is marked. */
  function totals(mine, other) {
    const item = (key, text, differs) =>
      el("li", { class: differs ? "differs" : null }, el("span", { class: "sub-inline", text: t(key) + " " }), el("strong", { text: text }), differs ? el("span", { class: "sr-only", text: " (" + t("waste.settle.differs") + ")" }) : null);
    return el(
      "ul",
      { class: "totals" },
      item("waste.settle.count", W.int(mine.count), mine.count !== other.count),
      item("waste.settle.debit", W.ntd(mine.debit_total), mine.debit_total !== other.debit_total),
      item("waste.settle.credit", W.ntd(mine.credit_total), mine.credit_total !== other.credit_total)
    );
  }

  // A difference in the reader's language, from its figures (older records carry only text).
  function difference(d) {
    if (d.code === "count") return t("waste.settle.diff_count", { station: W.int(d.station), server: W.int(d.server) });
    if (d.code === "charged") return t("waste.settle.diff_charged", { station: W.ntd(d.station), server: W.ntd(d.server) });
    if (d.code === "rebated") return t("waste.settle.diff_rebated", { station: W.ntd(d.station), server: W.ntd(d.server) });
    if (d.code === "missing") {
      const seqs = d.seqs.join(", ");
      return d.more ? t("waste.settle.diff_missing_more", { seqs, more: W.int(d.more) }) : t("waste.settle.diff_missing", { seqs });
    }
    return d.text;
  }

  function row(s) {
    const cell = (label, cls, ...kids) => el("td", { "data-label": t(label), class: cls || null }, ...kids);
    return el(
      "tr",
      { class: "settle-" + s.status, "data-station": s.terminal_id, "data-batch": s.batch_no },
      cell("waste.col.station", null, el("a", { href: "/waste/transactions?terminal_id=" + encodeURIComponent(s.terminal_id), lang: OC.cfg.data_language, text: names.get(s.terminal_id) || s.terminal_id }), names.has(s.terminal_id) ? [el("br"), el("span", { class: "sub-inline", text: s.terminal_id })] : null),
      cell("waste.col.batch_no", "num", W.int(s.batch_no)),
      cell("waste.col.status", null, el("span", { class: "status " + (s.status === "mismatch" ? "status-blocked" : "status-ok"), text: t("waste.settle." + s.status) }), el("br"), el("span", { class: "sub-inline", text: t("waste.settle.checked", { time: OC.dateTime(s.checked_at) }) })),
      cell("waste.col.period", "nowrap", el("time", { datetime: s.opened_at, text: OC.dateTime(s.opened_at) }), el("br"), el("time", { datetime: s.closed_at, text: OC.dateTime(s.closed_at) })),
      cell("waste.col.station_totals", null, totals(s.terminal, s.server)),
      cell("waste.col.server_totals", null, totals(s.server, s.terminal)),
      cell("waste.col.differences", "diffs", s.difference_details.length ? el("ul", { class: "diff-list" }, s.difference_details.map((d) => el("li", { text: difference(d) }))) : "–")
    );
  }

  const names = new Map(); // station id -> name
  async function loadNames() {
    try {
      (await api("/api/v1/waste/stations")).forEach((x) => names.set(x.id, x.name));
    } catch (_) {
      /* the ids alone still say which station */
    }
  }

  async function load() {
    const values = { status: statusSel.value, terminal_id: station.value.trim() };
    W.setParams(values);
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(values)) if (v) q.set(k, v);
    try {
      const r = await api("/api/v1/waste/settlements?" + q);
      // Mismatches first, then the latest batches.
      const items = r.items.slice().sort((a, b) => (a.status === b.status ? (a.closed_at < b.closed_at ? 1 : -1) : a.status === "mismatch" ? -1 : 1));
      document.getElementById("st-rows").replaceChildren(...items.map(row));
      document.getElementById("st-empty").hidden = items.length > 0;
      const bad = items.filter((s) => s.status === "mismatch").length;
      document.getElementById("st-count").textContent = "(" + items.length + ")";
      document.getElementById("st-summary").textContent = t("waste.settle.summary", { n: items.length, bad: bad });
      document.getElementById("st-summary").classList.toggle("has-bad", bad > 0);
      show(document.getElementById("st-error"), "");
      fresh.mark();
    } catch (err) {
      show(document.getElementById("st-error"), t("err.generic", { detail: err.detail }));
    }
  }

  document.getElementById("st-filters").addEventListener("submit", (ev) => {
    ev.preventDefault();
    load();
  });
  statusSel.addEventListener("change", load);
  station.addEventListener("input", OC.debounce(load, 400));
  const reload = OC.debounce(load, 300);
  ["waste.settlement_mismatch", "waste.transactions", "connected"].forEach((type) => OC.live.on(type, reload));
  setInterval(load, REFRESH_MS);
  loadNames().then(load);
  OC.live.start();
})();
