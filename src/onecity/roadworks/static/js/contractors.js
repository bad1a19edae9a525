/* RPIC's register of who digs: contractors with their penalty points and any bar from new
   permits, the utilities and agencies with their staff, and the penalty book. An assessor
   records a breach (its points and a fine in the statutory range) and voids a wrong one by a
   correction that says why; the book itself is never edited. Builds on core.js (OC). */
(function () {
  "use strict";
  const { cfg, t, el, api, show } = OC;
  const R = window.OCR;
  const API = "/api/v1/roadworks";
  const assess = OC.can("roadworks:assess");
  const $ = (id) => document.getElementById(id);
  const form = $("pen-form");
  const who = $("hist-who");
  let orgs = {};
  let rules = null;

  const name = (o) => (cfg.lang === "en" ? o.name_en : o.name_zh) || o.code;
  const orgName = (code) => (orgs[code] ? name(orgs[code]) : code);
  const money = (n) => "NT$" + Number(n).toLocaleString(cfg.lang);
  const local = (obj, fallback) => OC.local(obj) || fallback;
  const cell = (label, cls, ...kids) => el("td", { "data-label": t("roadworks.contractors.col." + label), class: cls || null }, ...kids);
  const members = (o) => (o.members.length ? o.members.join(", ") : el("span", { class: "sub", text: t("roadworks.contractors.no_members") }));

  function barCell(o) {
    if (!o.barred_until) return "–";
    return el("strong", { class: "reg-barred", text: t("roadworks.contractors.barred_until", { date: o.barred_until }) });
  }

  function contractorRow(o) {
    // While barred the count toward the next bar starts again after the bar ends.
    const of = o.barred_until ? "–" : rules ? t("roadworks.contractors.points_of", { n: o.points, max: rules.bar.threshold }) : String(o.points);
    return el(
      "tr",
      { "data-code": o.code, class: o.barred_until ? "is-barred" : null },
      cell("name", "wide", el("strong", {}, R.orgName(o.code, o.name_zh, o.name_en)), el("br"), el("span", { class: "sub mono", text: o.code })),
      cell("members", null, members(o)),
      cell("points", "num", of),
      cell("barred", null, barCell(o))
    );
  }

  function orgRow(o) {
    const kind = t("roadworks.contractors.kind." + o.kind) + (o.utility_kind ? " · " + R.purpose(o.utility_kind) : "");
    return el(
      "tr",
      { "data-code": o.code },
      cell("name", "wide", el("strong", {}, R.orgName(o.code, o.name_zh, o.name_en)), el("br"), el("span", { class: "sub mono", text: o.code })),
      cell("kind", null, kind),
      cell("members", null, members(o))
    );
  }

  function renderOrgs(list) {
    orgs = Object.fromEntries(list.map((o) => [o.code, o]));
    const cons = list.filter((o) => o.kind === "contractor");
    const others = list.filter((o) => o.kind !== "contractor");
    $("ct-con-body").replaceChildren(...cons.map(contractorRow));
    $("ct-org-body").replaceChildren(...others.map(orgRow));
    $("ct-con-none").hidden = cons.length > 0;
    $("ct-con-count").textContent = "(" + cons.length + ")";
    $("ct-org-count").textContent = "(" + others.length + ")";
    const options = (sel, first) => {
      const keep = sel.value;
      sel.replaceChildren(...first, ...cons.map((o) => el("option", { value: o.code, text: name(o) + (o.barred_until ? " " + t("roadworks.contractors.barred_tag") : "") })));
      if (keep && orgs[keep]) sel.value = keep;
    };
    options(who, [el("option", { value: "", text: t("roadworks.contractors.all") })]);
    if (form) options($("pen-contractor"), []);
  }

  function renderRules(r) {
    rules = r;
    $("ct-rule").textContent = t("roadworks.contractors.rule", {
      n: r.bar.threshold,
      days: r.bar.window_days,
      months: r.bar.months,
      min: money(r.fine_min),
      max: money(r.fine_max),
    });
    if (!form) return;
    $("pen-breach").replaceChildren(
      ...r.breaches.map((b) => el("option", { value: b.code, text: t("roadworks.contractors.breach_pts", { name: local(b.name, b.code), n: b.points }) }))
    );
    $("pen-fine-hint").textContent = t("roadworks.contractors.fine_range", { min: money(r.fine_min), max: money(r.fine_max) });
    $("pen-fine").placeholder = String(r.fine_min);
  }

  /* One row of the book: a breach in force, a voided one (struck through) or a correction. */
  function penaltyRow(p) {
    const state = p.voids
      ? el("span", { class: "reg-state st-fix", text: t("roadworks.contractors.correction", { id: p.voids }) })
      : p.voided_by
        ? el("span", { class: "reg-state st-void", text: t("roadworks.contractors.voided", { id: p.voided_by }) })
        : el("span", { class: "reg-state st-live", text: t("roadworks.contractors.in_force") });
    const act = assess && !p.voids && !p.voided_by
      ? el("button", { type: "button", class: "btn btn-small btn-quiet reg-void", onclick: (ev) => openVoid(ev.target.closest("tr"), p), text: t("roadworks.contractors.void") })
      : null;
    const cls = p.voids ? "is-correction" : p.voided_by ? "is-voided" : null;
    return el(
      "tr",
      { "data-id": p.id, "data-contractor": p.contractor, class: cls },
      cell("date", "nowrap", OC.date(p.on_date), el("br"), el("span", { class: "sub mono", text: "#" + p.id })),
      cell("contractor", null, orgs[p.contractor] ? R.orgName(p.contractor, orgs[p.contractor].name_zh, orgs[p.contractor].name_en) : p.contractor),
      cell("breach", "wide reg-what", local(p.breach_name, p.breach)),
      cell("points", "num reg-what", p.voids ? "−" + p.points : String(p.points)),
      cell("fine", "num reg-what", money(p.fine_twd)),
      cell("ref", p.permit_ref ? "nowrap" : "is-empty", p.permit_ref ? el("a", { class: "mono", href: "/roadworks/permits/" + encodeURIComponent(p.permit_ref), text: p.permit_ref }) : "–"),
      cell("note", "wide reg-note-cell", p.note || "–", el("br"), el("span", { class: "sub", text: t("roadworks.contractors.by", { who: p.recorded_by }) })),
      cell("state", "wide", state, act ? [" ", act] : null)
    );
  }

  /* The void form opens under the row: a correction must say why (the API insists). */
  function openVoid(tr, p) {
    const open = document.querySelector("tr.reg-void-row");
    if (open) open.remove();
    const note = el("textarea", { id: "void-note", class: "rw-note", rows: "2", maxlength: "2000" });
    const err = el("p", { class: "error", role: "alert", hidden: true });
    const send = async (ev) => {
      ev.preventDefault();
      const btn = ev.submitter || f.querySelector("button[type=submit]");
      btn.disabled = true;
      try {
        const body = { contractor: p.contractor, voids: p.id, on_date: R.day(0), note: note.value.trim() };
        const out = await api(API + "/penalties", { json: body });
        row.remove();
        done(t("roadworks.contractors.voided_done", { id: p.id, who: orgName(p.contractor) }) + standing(out));
        await loadAll();
      } catch (e) {
        show(err, t("roadworks.contractors.refused_write", { detail: e.detail }));
        note.setAttribute("aria-invalid", e.field === "note" ? "true" : "false");
        note.focus();
      } finally {
        btn.disabled = false;
      }
    };
    const f = el(
      "form",
      { class: "reg-void-form", onsubmit: send, novalidate: true },
      el("label", { for: "void-note", text: t("roadworks.contractors.void_why", { id: p.id }) }),
      note,
      err,
      el(
        "div",
        { class: "rw-actions" },
        el("button", { type: "submit", class: "btn btn-small btn-danger", text: t("roadworks.contractors.void_confirm") }),
        el("button", { type: "button", class: "btn btn-small btn-quiet", onclick: () => row.remove(), text: t("roadworks.contractors.cancel") })
      )
    );
    const row = el("tr", { class: "reg-void-row" }, el("td", { colspan: "8", class: "wide" }, f));
    tr.after(row);
    note.focus();
  }

  const standing = (out) =>
    out.barred_until
      ? " " + t("roadworks.contractors.now_barred", { date: out.barred_until })
      : " " + t("roadworks.contractors.now_points", { n: out.standing_points });

  function done(text) {
    show($("pen-error"), "");
    const ok = $("pen-done");
    if (ok) show(ok, text);
    else show($("hist-error"), "");
  }

  async function loadHistory() {
    const q = who.value ? "?contractor=" + encodeURIComponent(who.value) : "";
    try {
      const rows = await api(API + "/penalties" + q);
      $("hist-body").replaceChildren(...rows.map(penaltyRow));
      $("hist-none").hidden = rows.length > 0;
      $("hist-count").textContent = "(" + rows.length + ")";
      show($("hist-error"), "");
    } catch (e) {
      show($("hist-error"), t("err.generic", { detail: e.detail }));
    }
  }

  async function loadAll() {
    try {
      const [list, r] = await Promise.all([api(API + "/orgs"), rules ? Promise.resolve(rules) : api(API + "/penalties/breaches")]);
      if (r !== rules) renderRules(r);
      renderOrgs(list);
      show($("ct-error"), "");
    } catch (e) {
      show($("ct-error"), t("err.generic", { detail: e.detail }));
    }
    await loadHistory();
  }

  if (form) {
    const date = $("pen-date");
    date.value = R.day(0);
    date.max = R.day(0);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const btn = $("pen-submit");
      const fine = $("pen-fine").value.trim();
      const body = {
        contractor: $("pen-contractor").value,
        breach: $("pen-breach").value,
        fine_twd: fine === "" ? null : Math.round(Number(fine)),
        on_date: date.value,
        permit_ref: $("pen-ref").value.trim().toUpperCase() || null,
        note: $("pen-note").value.trim(),
      };
      form.querySelectorAll("[aria-invalid]").forEach((x) => x.removeAttribute("aria-invalid"));
      btn.disabled = true;
      try {
        const out = await api(API + "/penalties", { json: body });
        const what = local(out.breach_name, out.breach);
        done(t("roadworks.contractors.recorded", { id: out.id, who: orgName(out.contractor), what: what, n: out.points }) + standing(out));
        $("pen-note").value = "";
        $("pen-ref").value = "";
        await loadAll();
      } catch (e) {
        show($("pen-done"), "");
        show($("pen-error"), t("roadworks.contractors.refused_write", { detail: e.detail }));
        const bad = e.field && form.querySelector('[name="' + e.field + '"]');
        if (bad) {
          bad.setAttribute("aria-invalid", "true");
          bad.focus();
        }
      } finally {
        btn.disabled = false;
      }
    });
  }
  who.addEventListener("change", loadHistory);
  $("hist-filter").addEventListener("submit", (ev) => ev.preventDefault());
  loadAll();
})();
