/* The public road works map (no login): today's or tomorrow's works coloured by purpose, a
   popup and a list entry for each (what, who, until when, why), and the same works as a
   GeoJSON download. The day is kept in the address (?day=tomorrow) so a link can share it. */
(function () {
  "use strict";
  const { t, el, show } = OC;
  const R = window.OCR;
  const REFRESH_MS = 120000;
  const URL_BASE = "/api/v1/roadworks/public/works.geojson";

  const mapEl = document.getElementById("rw-map");
  const list = document.getElementById("rw-list");
  const errorLine = document.getElementById("rw-error");
  const download = document.getElementById("rw-download");
  const radios = Array.from(document.querySelectorAll('input[name="rw-day"]'));
  const map = R.cityMap(mapEl);
  let drawn = null;
  let fitted = false;
  let loading = null;

  R.legend(document.getElementById("rw-legend"));
  document.querySelectorAll(".rw-date").forEach((s) => (s.textContent = R.fmtDay(R.day(Number(s.dataset.offset)))));
  const asked = new URLSearchParams(location.search);
  // A link from a permit page (?ref=…&day=YYYY-MM-DD) opens that works on its first day.
  let focusRef = asked.get("ref");
  const askedDay = /^\d{4}-\d\d-\d\d$/.test(asked.get("day") || "") ? asked.get("day") : null;
  if (askedDay && askedDay !== R.day(0) && askedDay !== R.day(1)) {
    const label = el("label", { class: "rw-day" }, el("input", { type: "radio", name: "rw-day", value: "iso", checked: true }), " ", el("span", { class: "rw-date", text: R.fmtDay(askedDay) }));
    radios[0].closest("fieldset").append(label);
    radios.push(label.querySelector("input"));
  } else if (askedDay === R.day(1) || asked.get("day") === "tomorrow") radios[1].checked = true;

  const checkedRadio = () => radios.find((r) => r.checked) || radios[0];
  const dayShown = () => (checkedRadio().value === "iso" ? askedDay : R.day(Number(checkedRadio().value)));

  function item(p) {
    return el(
      "li",
      { class: "rw-item", "data-ref": p.ref, "data-purpose": p.purpose },
      el("h3", { class: "rw-item-title" }, R.swatch(p.purpose), R.title(p)),
      el("p", { class: "rw-item-who" }, R.joined([R.applicant(p), R.contractor(p)])),
      el("p", { class: "rw-item-when", text: R.period(p) + " · " + R.status(p.status) }),
      el("p", { class: "rw-item-why" }, R.text(p.description)),
      el("button", { type: "button", class: "link-btn rw-show", onclick: () => R.focus(map, drawn.byRef.get(p.ref)), text: t("roadworks.map.show") })
    );
  }

  /* Real records whose data looks wrong (an end decades out, a point outside the city) are not
     drawn as if true: the page says how many were left out, and why, under the list. */
  function renderWithheld(items) {
    const box = document.getElementById("rw-withheld");
    box.hidden = items.length === 0;
    mapEl.dataset.withheld = String(items.length);
    if (!items.length) return;
    document.getElementById("rw-withheld-h").textContent = t("roadworks.map.withheld", { n: OC.num(items.length) });
    document.getElementById("rw-withheld-list").replaceChildren(
      ...items.map((w) => el("li", { "data-ref": w.ref }, el("strong", { text: w.ref }), ": ", R.joined(w.notes.map((n) => el("span", { "data-code": n.code, text: R.local(n.reason) })), "; ")))
    );
  }

  function render(doc) {
    const features = doc.features || [];
    R.clear(map, drawn);
    drawn = R.drawWorks(map, features, null, (p) => R.popup(p));
    mapEl.dataset.features = String(features.length);
    mapEl.dataset.day = doc.day;
    list.replaceChildren(...features.map((f) => item(f.properties)));
    document.getElementById("rw-empty").hidden = features.length > 0;
    document.getElementById("rw-count").textContent = "(" + t("roadworks.map.count", { n: OC.num(features.length) }) + ")";
    renderWithheld(doc.withheld || []);
    if (focusRef && drawn.byRef.get(focusRef)) {
      R.focus(map, drawn.byRef.get(focusRef));
      const li = list.querySelector('[data-ref="' + CSS.escape(focusRef) + '"]');
      if (li) li.classList.add("is-focused");
      focusRef = null;
      fitted = true;
    } else if (!fitted && features.length) {
      map.fitBounds(drawn.group.getBounds(), { padding: [30, 30], maxZoom: 15 });
      fitted = true;
    }
  }

  async function load() {
    const day = dayShown();
    download.href = URL_BASE + "?day=" + day + "&download=1";
    if (loading) loading.abort();
    loading = new AbortController();
    try {
      render(await OC.api(URL_BASE + "?day=" + day, { signal: loading.signal }));
      show(errorLine, "");
    } catch (err) {
      if (err.name !== "AbortError") show(errorLine, t("roadworks.map.error", { detail: err.detail }));
    }
  }

  radios.forEach((r) =>
    r.addEventListener("change", () => {
      const q = new URLSearchParams(location.search);
      q.delete("ref");
      if (checkedRadio().value === "1") q.set("day", "tomorrow");
      else if (checkedRadio().value === "iso") q.set("day", askedDay);
      else q.delete("day");
      const s = q.toString();
      history.replaceState(null, "", location.pathname + (s ? "?" + s : ""));
      load();
    })
  );
  setInterval(load, REFRESH_MS);
  load();
})();
