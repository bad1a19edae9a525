/* The garbage tariffs, every version with the days it applies, and a calculator that picks
   the version in force on the chosen day (Taipei) and charges by the same rule as the
   stations and the server (onecity.waste.domain.Tariff.charge). */
(function () {
  "use strict";
  const { t, el, api, show } = OC;
  const W = OCW;
  const MAX_GRAMS = 50000;
  /* The tariff's name in the page's language when the city profile gives one. */
  const tariffName = (tf) => (tf.names && tf.names[OC.cfg.lang]) || tf.name || tf.effective_from;
  const EXAMPLES = [150, 450, 750, 1200, 3000];
  const list = document.getElementById("tariffs");
  const gramsIn = document.getElementById("calc-grams");
  const dayIn = document.getElementById("calc-day");
  const out = document.getElementById("calc-out");
  let versions = [];

  function charge(tf, grams) {
    for (const [limit, price] of tf.steps) if (grams <= limit) return price;
    const started = Math.ceil(grams / tf.increment_g);
    return Math.max(started * tf.per_increment, tf.steps[tf.steps.length - 1][1]);
  }
  function inForce(day) {
    let best = null;
    for (const tf of versions) if (tf.effective_from <= day && (!best || tf.effective_from > best.effective_from)) best = tf;
    return best;
  }
  const fmtDay = (iso) => {
    const [y, m, d] = iso.split("-").map(Number);
    return new Intl.DateTimeFormat(OC.cfg.lang, { timeZone: "UTC", year: "numeric", month: "2-digit", day: "2-digit" }).format(Date.UTC(y, m - 1, d));
  };
  const prevDay = (iso) => {
    const [y, m, d] = iso.split("-").map(Number);
    return new Date(Date.UTC(y, m - 1, d - 1)).toISOString().slice(0, 10);
  };

  function version(tf, i, sorted) {
    const today = W.today();
    const next = sorted[i - 1]; // sorted newest first
    const state = tf.effective_from > today ? "future" : next && next.effective_from <= today ? "past" : "in_force";
    const span = next ? t("waste.tariffs.until", { from: fmtDay(tf.effective_from), to: fmtDay(prevDay(next.effective_from)) }) : t("waste.tariffs.from", { day: fmtDay(tf.effective_from) });
    const last = tf.steps[tf.steps.length - 1];
    const rows = tf.steps.map(([limit, price]) => el("tr", {}, el("th", { scope: "row", text: t("waste.tariffs.up_to", { kg: W.kg(limit) }) }), el("td", { class: "num", text: W.ntd(price) })));
    rows.push(
      el(
        "tr",
        { class: "above" },
        el("th", { scope: "row", text: t("waste.tariffs.above_short", { kg: W.kg(last[0]) }) }),
        el("td", { text: t("waste.tariffs.above", { price: W.ntd(tf.per_increment), inc: W.kg(tf.increment_g), min: W.ntd(last[1]) }) })
      )
    );
    const examples = EXAMPLES.map((g) => el("li", {}, el("span", { text: W.kg(g) }), " → ", el("strong", { text: W.ntd(charge(tf, g)) })));
    const headId = "tf-" + tf.effective_from;
    return el(
      "article",
      { class: "tariff tariff-" + state, "aria-labelledby": headId, "data-from": tf.effective_from },
      el("h2", { id: headId }, tariffName(tf), " ", el("span", { class: "status status-" + (state === "in_force" ? "ok" : state === "future" ? "registered" : "past"), text: t("waste.tariffs." + state) })),
      el("p", { class: "sub", text: span }),
      el(
        "table",
        { class: "table waste-table tariff-table" },
        el("caption", { class: "sr-only", text: tariffName(tf) + " " + span }),
        el("thead", {}, el("tr", {}, el("th", { scope: "col", text: t("waste.tariffs.weight") }), el("th", { scope: "col", class: "num", text: t("waste.tariffs.charge") }))),
        el("tbody", {}, rows)
      ),
      el("p", { class: "sub-h", text: t("waste.tariffs.examples") }),
      el("ul", { class: "examples" }, examples)
    );
  }

  function calculate() {
    const raw = gramsIn.value.trim();
    const grams = Number(raw);
    const day = dayIn.value || W.today();
    gramsIn.removeAttribute("aria-invalid");
    if (!versions.length) return;
    if (!/^\d+$/.test(raw) || grams < 1) {
      gramsIn.setAttribute("aria-invalid", "true");
      out.className = "calc-out error";
      out.textContent = t("waste.calc.bad");
      return;
    }
    if (grams > MAX_GRAMS) {
      gramsIn.setAttribute("aria-invalid", "true");
      out.className = "calc-out error";
      out.textContent = t("waste.calc.too_heavy", { kg: W.kg(MAX_GRAMS) });
      return;
    }
    const tf = inForce(day);
    if (!tf) {
      out.className = "calc-out error";
      out.textContent = t("waste.calc.gap", { day: fmtDay(day) });
      return;
    }
    out.className = "calc-out ok";
    out.textContent = t("waste.calc.result", { kg: W.kg(grams), day: fmtDay(day), price: W.ntd(charge(tf, grams)), name: tariffName(tf), from: fmtDay(tf.effective_from) });
  }

  async function load() {
    try {
      versions = await api("/api/v1/waste/tariffs");
      const sorted = versions.slice().sort((a, b) => (a.effective_from < b.effective_from ? 1 : -1));
      list.replaceChildren(...sorted.map((tf, i) => version(tf, i, sorted)));
      show(document.getElementById("tf-error"), "");
      calculate();
    } catch (err) {
      show(document.getElementById("tf-error"), t("err.generic", { detail: err.detail }));
    }
  }

  dayIn.value = W.today();
  document.getElementById("calc").addEventListener("submit", (ev) => {
    ev.preventDefault();
    calculate();
  });
  gramsIn.addEventListener("input", calculate);
  dayIn.addEventListener("input", calculate);
  dayIn.addEventListener("change", calculate);
  load();
})();
