/* The permit register for RPIC staff: every application and permit, filtered by status, with
   what the checks found (clashes and other blocking findings) and joint dig groups at a glance.
   The same page at /roadworks/my-permits is a contractor's or utility's own list: the API
   answers them with their organisations' permits only, so the page itself needs no change.
   Builds on core.js (OC); kept live by the roadworks.permit events. */
(function () {
  "use strict";
  const { cfg, t, el, api, show } = OC;
  const body = document.getElementById("permits");
  const none = document.getElementById("permits-none");
  const count = document.getElementById("permits-count");
  const errorBox = document.getElementById("permits-error");
  const filter = document.getElementById("f-status");
  const REFRESH_MS = 30000;
  let orgs = null; // code -> org, for names in the page's language
  const R = window.OCR;
  /* An organisation's name in the page's language (a Chinese-only name kept as the proper name
     it is); the permit's own names first, then the register, then the code. */
  const orgName = (code, names) => {
    if (names) return R.orgName(code, names["zh-TW"], names.en);
    const o = orgs && orgs[code];
    return o ? R.orgName(code, o.name_zh, o.name_en) : code;
  };

  const status = (s) => el("span", { class: "rw-status st-" + s, text: t("roadworks.permit.status." + s) });
  const purpose = (p) => t("roadworks.permit.purpose." + p);
  const href = (ref) => "/roadworks/permits/" + encodeURIComponent(ref);

  function flags(p) {
    const out = [];
    const clashes = p.findings.filter((f) => f.code === "clash" || f.code === "repeat_dig").length;
    const blocks = p.findings.filter((f) => f.severity === "block" && f.code !== "clash").length;
    const warns = p.findings.filter((f) => f.severity === "warn" && f.code !== "repeat_dig").length;
    if (clashes) out.push(el("span", { class: "rw-flag fl-block", text: t("roadworks.permits.flag_clash", { n: clashes }) }));
    if (blocks) out.push(el("span", { class: "rw-flag fl-block", text: t("roadworks.permits.flag_block", { n: blocks }) }));
    if (warns) out.push(el("span", { class: "rw-flag fl-warn", text: t("roadworks.permits.flag_warn", { n: warns }) }));
    if (p.joint_group)
      out.push(el("span", { class: "rw-flag fl-joint", text: t("roadworks.permits.flag_joint", { group: p.joint_group, n: p.dig_order || "?" }) }));
    return out.length ? out : ["–"];
  }

  function row(p) {
    const cell = (label, cls, ...kids) => el("td", { "data-label": t("roadworks.permits.col." + label), class: cls || null }, ...kids);
    return el(
      "tr",
      { "data-ref": p.ref },
      cell("ref", "nowrap wide", el("a", { href: href(p.ref), class: "mono", text: p.ref })),
      cell("applicant", null, orgName(p.applicant, p.applicant_names), p.contractor ? [el("br"), el("span", { class: "sub" }, t("roadworks.permits.via_before"), orgName(p.contractor, p.contractor_names))] : null),
      cell("purpose", null, purpose(p.purpose), el("br"), el("span", { class: "sub" }, R.text(p.description))),
      cell("road", null, p.road ? R.text(p.road) : "–", p.district ? [el("br"), el("span", { class: "sub" }, R.text(p.district))] : null),
      cell("dates", "nowrap", t("roadworks.map.period", { start: OC.date(p.start_date), end: OC.date(p.end_date) }), p.emergency ? [el("br"), el("strong", { text: t("roadworks.permit.emergency") })] : null),
      cell("status", null, status(p.status), p.status === "applied" ? [el("br"), el("span", { class: "sub", text: t("roadworks.permits.decide_by", { date: OC.date(p.decide_by) }) })] : null),
      cell("flags", "wide", flags(p))
    );
  }

  async function load() {
    const q = new URLSearchParams({ limit: "500" });
    if (filter.value) q.set("status", filter.value);
    try {
      if (!orgs) orgs = Object.fromEntries((await api("/api/v1/roadworks/orgs").catch(() => [])).map((o) => [o.code, o]));
      const page = await api("/api/v1/roadworks/permits?" + q);
      body.replaceChildren(...page.items.map(row));
      none.hidden = page.items.length > 0;
      count.textContent = "(" + OC.num(page.total) + ")";
      show(errorBox, "");
    } catch (err) {
      show(errorBox, t("err.generic", { detail: err.detail }));
    }
  }

  // The filter lives in the address, so a filtered register can be bookmarked or shared.
  const initial = new URLSearchParams(location.search).get("status");
  if (initial && Array.from(filter.options).some((o) => o.value === initial)) filter.value = initial;
  filter.addEventListener("change", () => {
    const q = filter.value ? "?status=" + encodeURIComponent(filter.value) : "";
    history.replaceState(null, "", location.pathname + q);
    load();
  });
  document.getElementById("permits-filter").addEventListener("submit", (ev) => ev.preventDefault());

  const reload = OC.debounce(load, 300);
  OC.live.on("roadworks.permit", reload);
  OC.live.on("connected", reload);
  setInterval(load, REFRESH_MS);
  load();
  window.OCR.startLive();
})();
