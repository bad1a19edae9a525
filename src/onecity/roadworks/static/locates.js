/* A pipe owner's locate requests: works that may hit our pipes, soonest due first, overdue ones
   in red, each answered with Marked (on site), Clear (nothing in the way) or Conflict (with a
   note saying which pipe and what to do). The works cannot start before every owner answered. */
(function () {
  "use strict";
  const { cfg, t, el, api, show } = OC;
  const $ = (id) => document.getElementById(id);
  const body = $("locates");
  const errorBox = $("locates-error");
  const msg = $("locates-msg");
  const pendingOnly = $("f-pending");
  const REFRESH_MS = 30000;
  let orgs = null;
  let busy = false;
  let loadFailed = false; // only a failed load's message is cleared by the next load

  const R = window.OCR;
  const orgName = (code, names) => {
    if (names) return R.orgName(code, names["zh-TW"], names.en);
    const o = orgs && orgs[code];
    return o ? R.orgName(code, o.name_zh, o.name_en) : code;
  };
  const permitHref = (ref) => "/roadworks/permits/" + encodeURIComponent(ref);

  function answerCell(l) {
    const noteId = "note-" + l.id;
    const input = el("input", { id: noteId, class: "rw-locate-note", maxlength: "2000", placeholder: t("roadworks.locates.note_hint"), "aria-label": t("roadworks.locates.col.note") });
    const button = (resp, cls) =>
      el("button", {
        type: "button",
        class: "btn btn-small " + cls,
        "data-answer": resp,
        text: t("roadworks.locates.answer." + resp),
        onclick: () => answer(l, resp, input),
      });
    return el("div", { class: "rw-answer" }, input, el("div", { class: "rw-actions" }, button("marked", "btn-ok"), button("clear", "btn-ok"), button("conflict", "btn-danger")));
  }

  function row(l) {
    const cell = (label, cls, ...kids) => el("td", { "data-label": t("roadworks.locates.col." + label), class: cls || null }, ...kids);
    return el(
      "tr",
      { class: l.overdue ? "is-overdue" : null, "data-id": String(l.id), "data-permit": l.permit_ref },
      cell("permit", "nowrap wide", el("a", { href: permitHref(l.permit_ref), class: "mono", text: l.permit_ref }), el("br"), el("span", { class: "sub", text: t("roadworks.locates.notified", { when: OC.dateTime(l.notified_at) }) })),
      cell("owner", null, orgName(l.owner, l.owner_names)),
      cell("pipes", "num", String(l.pipes)),
      cell("due", "nowrap", el("span", { class: l.overdue ? "overdue" : null, text: OC.date(l.due_by) }), l.overdue ? [el("br"), el("span", { class: "overdue", text: t("roadworks.locates.overdue") })] : null),
      cell(
        "response",
        null,
        el("span", { class: "rw-resp r-" + l.response, text: t("roadworks.locates.resp." + l.response) }),
        l.responded_by ? [el("br"), el("span", { class: "sub", text: l.responded_by + " · " + OC.dateTime(l.responded_at) })] : null,
        l.note ? [el("br"), el("span", { class: "sub", text: l.note })] : null
      ),
      cell("answer", "wide", answerCell(l))
    );
  }

  async function answer(l, response, input) {
    if (busy) return;
    const note = input.value.trim();
    show(msg, "");
    if (response === "conflict" && !note) {
      show(errorBox, t("roadworks.locates.need_note"));
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    busy = true;
    show(errorBox, "");
    try {
      await api("/api/v1/roadworks/locates/" + l.id + "/answer", { json: { response: response, note: note } });
      show(msg, t("roadworks.locates.answered", { ref: l.permit_ref, response: t("roadworks.locates.resp." + response) }));
    } catch (err) {
      show(errorBox, t("roadworks.locates.failed", { detail: err.detail }));
    }
    busy = false;
    await load();
  }

  async function load() {
    try {
      if (!orgs) {
        const list = await api("/api/v1/roadworks/orgs").catch(() => []);
        orgs = Object.fromEntries(list.map((o) => [o.code, o]));
      }
      const list = await api("/api/v1/roadworks/locates?pending=" + (pendingOnly.checked ? "true" : "false"));
      // Keep a note someone is typing when the list refreshes under them.
      const typing = document.activeElement && document.activeElement.classList.contains("rw-locate-note") ? document.activeElement.id : null;
      const notes = Object.fromEntries(Array.from(body.querySelectorAll(".rw-locate-note")).map((x) => [x.id, x.value]));
      body.replaceChildren(...list.map(row));
      Object.entries(notes).forEach(([id, v]) => $(id) && ($(id).value = v));
      if (typing && $(typing)) $(typing).focus();
      $("locates-none").hidden = list.length > 0;
      $("locates-count").textContent = "(" + list.length + ")";
      if (loadFailed) show(errorBox, "");
      loadFailed = false;
    } catch (err) {
      loadFailed = true;
      show(errorBox, t("err.generic", { detail: err.detail }));
    }
  }

  pendingOnly.addEventListener("change", load);
  $("locates-filter").addEventListener("submit", (ev) => ev.preventDefault());
  const reload = OC.debounce(() => !busy && load(), 300);
  OC.live.on("roadworks.locate", reload);
  OC.live.on("connected", reload);
  setInterval(() => !busy && load(), REFRESH_MS);
  load();
  window.OCR.startLive();
})();
