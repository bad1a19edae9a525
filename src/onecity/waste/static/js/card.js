/* One card: the server's mirror of it, what is missing, its flags in words, its history, and
   (for waste:manage) blocking or unblocking it with a reason. */
(function () {
  "use strict";
  const { page, t, el, api, show } = OC;
  const W = OCW;
  const REFRESH_MS = 30000;
  const id = String(page.card_id || "");
  const errorBox = document.getElementById("card-error");
  const fresh = new OC.Freshness("waste-card");
  const form = document.getElementById("block-form");
  const reason = document.getElementById("block-reason");
  const submit = document.getElementById("block-submit");
  const msg = document.getElementById("block-msg");
  const blockError = document.getElementById("block-error");
  let card = null;

  const set = (elId, text) => (document.getElementById(elId).textContent = text);

  function flag(f) {
    const where = f.terminal_id ? " · " + t("waste.card.flag_from", { station: f.terminal_id, seq: f.terminal_seq }) : "";
    return el(
      "li",
      { class: "flag flag-" + f.problem },
      el("div", { class: "flag-top" }, el("strong", { text: W.problem(f.problem) }), el("span", { class: "sub-inline", text: t("waste.card.flag_at", { counter: f.counter, time: OC.dateTime(f.at) }) + where })),
      el("p", { class: "flag-detail", text: f.detail })
    );
  }

  function render(c) {
    card = c;
    document.getElementById("card-status").replaceChildren(W.statusBadges(c));
    document.getElementById("card-blocked").hidden = !c.blocked;
    set("c-balance", W.ntd(c.balance));
    set("c-counter", W.int(c.counter));
    set("c-points", W.int(c.points));
    set("c-charged", W.ntd(c.charged_ntd));
    set("c-rebates", W.ntd(c.rebate_ntd));
    set("c-missing", W.int(c.missing));
    document.getElementById("s-missing").classList.toggle("warn", c.missing > 0);
    const dd = (key, text) => [el("dt", { text: t(key) }), el("dd", { text: text })];
    document.getElementById("c-details").replaceChildren(
      ...dd("waste.card.opening", W.ntd(c.opening_balance) + " / " + W.int(c.opening_counter)),
      ...dd("waste.card.issued", OC.dateTime(c.issued_at)),
      ...dd("waste.col.last_txn", c.last_txn_at ? OC.dateTime(c.last_txn_at) : t("waste.never")),
      ...dd("waste.col.txns", W.int(c.txn_count)),
      ...dd("waste.status.registered", c.registered ? t("waste.yes") : t("waste.no"))
    );
    document.getElementById("flags").replaceChildren(...c.flags.map(flag));
    document.getElementById("flags-none").hidden = c.flags.length > 0;
    document.getElementById("flag-count").textContent = "(" + c.flags.length + ")";
    const missing = c.missing_counters;
    document.getElementById("missing-list").textContent = missing.length
      ? missing.join(", ") + (c.missing > missing.length ? " … (" + W.int(c.missing) + ")" : "")
      : t("waste.card.missing_none");
    document.getElementById("history").replaceChildren(
      ...c.history.map((x) => W.txnRow(x, ["time", "counter", "kind", "station", "what", "amount", "balance", "batch"]))
    );
    document.getElementById("history-none").hidden = c.history.length > 0;
    document.getElementById("history-count").textContent = "(" + c.history.length + ")";
    if (submit) {
      submit.textContent = c.blocked ? t("waste.block.unblock") : t("waste.block.block");
      submit.classList.toggle("btn-danger", !c.blocked);
      validate();
    }
  }

  async function load() {
    if (!W.CARD.test(id)) {
      show(errorBox, t("waste.card.not_found"));
      return;
    }
    try {
      render(await api("/api/v1/waste/cards/" + encodeURIComponent(id)));
      show(errorBox, "");
      fresh.mark();
    } catch (err) {
      show(errorBox, err.status === 404 ? t("waste.card.not_found") : t("err.generic", { detail: err.detail }));
    }
  }

  function validate() {
    submit.disabled = !card || reason.value.trim().length < 3;
  }

  if (form) {
    reason.addEventListener("input", validate);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!card || reason.value.trim().length < 3) return;
      const action = card.blocked ? "unblock" : "block";
      submit.disabled = true;
      show(msg, "");
      show(blockError, "");
      try {
        await api("/api/v1/waste/cards/" + encodeURIComponent(id) + "/" + action, { json: { reason: reason.value.trim() } });
        show(msg, t("waste.block.done_" + action, { card: id }));
        reason.value = "";
      } catch (err) {
        show(blockError, t("waste.block.failed", { card: id, detail: err.detail }));
      }
      await load();
    });
  }

  const reload = OC.debounce(load, 300);
  OC.live.on("waste.transactions", (ev) => {
    if ((ev.payload.last || []).some((x) => x.card_id === id) || (ev.payload.count || 0) > 10) reload();
  });
  ["waste.card_flagged", "waste.card_blocked", "waste.card_unblocked"].forEach((type) =>
    OC.live.on(type, (ev) => ev.payload.card_id === id && reload()),
  );
  OC.live.on("connected", reload);
  setInterval(load, REFRESH_MS);
  load();
  OC.live.start();
})();
