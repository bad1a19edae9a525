/* A citizen's own cards: register one with the link code a station showed and printed after a
   visit, see each card's balance as a station last saw it, the points towards the next NT$1,
   totals and history; unregister; see cards that moved to another account. */
(function () {
  "use strict";
  const { t, el, api, show } = OC;
  const W = OCW;
  const POINTS_PER_NTD = 40; // onecity.waste.domain.POINTS_PER_NTD
  const REFRESH_MS = 60000;
  const form = document.getElementById("register");
  const inputs = { card_id: document.getElementById("r-card"), link_code: document.getElementById("r-code") };
  const CODE = /^[0-9A-Za-z]{4}-?[0-9A-Za-z]{4}$/; // onecity.waste.linkcode.PATTERN
  const noticeList = document.getElementById("my-notices");
  const submit = document.getElementById("r-submit");
  const msg = document.getElementById("my-msg");
  const errorBox = document.getElementById("my-error");
  const list = document.getElementById("my-cards");

  function stat(key, value, sub) {
    return el("div", { class: "stat" }, el("dt", { text: t(key) }), el("dd", { text: value }), sub ? el("p", { class: "stat-sub", text: sub }) : null);
  }

  function cardView(c) {
    const headId = "card-" + c.card_id;
    const pointsId = "pts-" + c.card_id;
    const unregister = el("button", { type: "button", class: "btn btn-quiet btn-small", "data-action": "unregister", text: t("waste.my.unregister") });
    const confirmRow = el(
      "div",
      { class: "actions", hidden: true },
      el("button", { type: "button", class: "btn btn-small btn-danger", "data-action": "confirm", text: t("waste.my.unregister_confirm", { card: c.card_id }), onclick: () => drop(c.card_id) }),
      el("button", { type: "button", class: "btn btn-small btn-quiet", "data-action": "cancel", text: t("waste.my.cancel"), onclick: () => {
        confirmRow.hidden = true;
        unregister.hidden = false;
        unregister.focus();
      } })
    );
    unregister.addEventListener("click", () => {
      unregister.hidden = true;
      confirmRow.hidden = false;
      confirmRow.querySelector("button").focus();
    });
    return el(
      "section",
      { class: "panel my-card" + (c.blocked ? " is-blocked" : ""), "aria-labelledby": headId, "data-card": c.card_id },
      el("div", { class: "panel-head" }, el("h2", { id: headId }, t("waste.card.title") + " ", el("span", { class: "card-no", text: c.card_id })), el("div", { class: "actions" }, unregister, confirmRow)),
      c.blocked ? el("p", { class: "error", text: t("waste.my.blocked") }) : null,
      el(
        "dl",
        { class: "stats" },
        stat("waste.my.balance", W.ntd(c.balance), c.last_txn_at ? t("waste.my.as_of", { time: OC.dateTime(c.last_txn_at) }) : t("waste.my.never_used")),
        el(
          "div",
          { class: "stat" },
          el("dt", { id: pointsId, text: t("waste.my.points") }),
          el("dd", { text: W.int(c.points) + " / " + POINTS_PER_NTD }),
          el("progress", { class: "points", max: String(POINTS_PER_NTD), value: String(c.points), "aria-labelledby": pointsId }),
          el("p", { class: "stat-sub", text: t("waste.my.points_towards", { points: c.points, per: POINTS_PER_NTD }) })
        ),
        stat("waste.my.charged", W.ntd(c.charged_ntd)),
        stat("waste.my.rebates", W.ntd(c.rebate_ntd))
      ),
      el("h3", { class: "sub-h", text: t("waste.card.history") }),
      c.history.length
        ? el(
            "div",
            { class: "table-wrap" },
            el(
              "table",
              { class: "table waste-table txn-table" },
              el("caption", { class: "sr-only", text: t("waste.card.history") + " " + c.card_id }),
              el(
                "thead",
                {},
                el("tr", {}, ["waste.col.time", "waste.col.kind", "waste.col.station", "waste.col.what", "waste.col.amount", "waste.col.balance", "waste.col.batch"].map((k) => el("th", { scope: "col", class: ["waste.col.amount", "waste.col.balance"].includes(k) ? "num" : null, text: t(k) })))
              ),
              el("tbody", {}, c.history.map((x) => W.txnRow(x, ["time", "kind", "station", "what", "amount", "balance", "batch"])))
            )
          )
        : el("p", { class: "empty", text: t("waste.card.history_none") })
    );
  }

  async function loadNotices() {
    const notes = await api("/api/v1/waste/my/card-notices");
    noticeList.replaceChildren(...notes.map((n) => el("li", { class: "notice", "data-card": n.card_id, text: t("waste.my.moved", { card: n.card_id, time: OC.dateTime(n.at) }) })));
    noticeList.hidden = notes.length === 0;
  }

  async function load() {
    try {
      await loadNotices();
      const cards = await api("/api/v1/waste/my/cards");
      list.replaceChildren(...cards.map(cardView));
      document.getElementById("my-none").hidden = cards.length > 0;
      if (errorBox.dataset.from === "load") show(errorBox, "");
    } catch (err) {
      errorBox.dataset.from = "load";
      show(errorBox, t("err.generic", { detail: err.detail }));
    }
  }

  function fail(err) {
    errorBox.dataset.from = "action";
    const key = "waste.my.err." + err.code;
    show(errorBox, OC.cfg.messages[key] ? t(key, { detail: err.detail }) : t("err.generic", { detail: err.detail }));
    const bad = err.field && inputs[err.field];
    if (bad) {
      bad.setAttribute("aria-invalid", "true");
      bad.focus();
    }
  }

  async function drop(cardId) {
    show(msg, "");
    show(errorBox, "");
    try {
      await api("/api/v1/waste/my/cards/" + encodeURIComponent(cardId), { method: "DELETE" });
      show(msg, t("waste.my.unregistered", { card: cardId }));
    } catch (err) {
      fail(err);
    }
    await load();
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    show(msg, "");
    show(errorBox, "");
    Object.values(inputs).forEach((x) => x.removeAttribute("aria-invalid"));
    const body = { card_id: inputs.card_id.value.trim(), link_code: inputs.link_code.value.trim() };
    const missing = Object.entries(body).find(([, v]) => !v);
    if (missing) {
      fail({ code: "missing", field: missing[0], detail: "" });
      return;
    }
    if (!W.CARD.test(body.card_id)) {
      fail({ code: "card_bad", field: "card_id", detail: "" });
      return;
    }
    if (!CODE.test(body.link_code)) {
      fail({ code: "code_bad", field: "link_code", detail: "" });
      return;
    }
    submit.disabled = true;
    try {
      await api("/api/v1/waste/my/cards", { json: body });
      show(msg, t("waste.my.registered", { card: body.card_id }));
      form.reset();
    } catch (err) {
      fail(err);
    } finally {
      submit.disabled = false;
    }
    await load();
  });

  setInterval(load, REFRESH_MS);
  load();
})();
