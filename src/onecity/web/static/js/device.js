/* One device: details, delivery accounts (what was received, duplicated, lost, rejected),
   latest values, a telemetry chart with CSV export, and its active alerts. */
(function () {
  "use strict";
  const { page, t, el, api, show } = OC;
  const id = page.device_id;
  const base = "/api/v1/devices/" + encodeURIComponent(id);
  const REFRESH_MS = 30000;
  const devFresh = new OC.Freshness("device");
  const chartFresh = new OC.Freshness("chart");
  const alertFresh = new OC.Freshness("device-alerts");
  const keySel = document.getElementById("chart-key");
  const rangeSel = document.getElementById("chart-range");
  const csv = document.getElementById("csv");
  const errorBox = document.getElementById("dev-error");
  const $ = (x) => document.getElementById(x);

  function renderHeader(d) {
    // The name is the city's data, in its own language (marked, for screen readers); the
    // tab's title cannot mark a language, so it names the device by its id.
    $("dev-name").replaceChildren(OC.name(d.name));
    document.title = t("device.title") + " " + d.id + " · " + document.title.split(" · ").slice(1).join(" · ");
    const parts = [OC.typeName(d.type), d.district ? OC.districtName(d) : null, OC.deptName(d.department), d.id].filter(Boolean);
    $("dev-sub").replaceChildren(...parts.flatMap((p, i) => (i ? [" · ", p] : [p])));
    const conn = $("dev-conn");
    conn.hidden = false;
    conn.className = "conn conn-" + d.connectivity;
    conn.textContent = t("conn." + d.connectivity);
  }

  function renderDelivery(a) {
    for (const k of ["received", "readings", "duplicates", "gaps", "rejected", "restarts"]) $("d-" + k).textContent = OC.num(a[k]);
    // Gaps are counted per epoch (a restart starts the count again): what was expected is
    // what arrived plus what is missing.
    const expected = a.received + a.gaps;
    $("d-loss").textContent = expected ? ((100 * a.gaps) / expected).toFixed(a.gaps ? 2 : 0) + " %" : "–";
    $("s-gaps").classList.toggle("bad", a.gaps > 0);
    $("s-loss").classList.toggle("bad", a.gaps > 0);
    $("s-rejected").classList.toggle("bad", a.rejected > 0);
    $("s-duplicates").classList.toggle("warn", a.duplicates > 0);
    $("s-restarts").classList.toggle("warn", a.conflicts > 0);
    $("d-seq").textContent = a.first_seq != null ? t("delivery.seq_range", { first: a.first_seq, last: a.last_seq }) : t("delivery.no_data");
  }

  /* A value's name in the page's language; a key the catalogs do not name is a code, shown
     as it is (translate="no"). */
  const metricText = (k) => (OC.cfg.messages["metric." + k] ? t("metric." + k) : k);
  const metricLabel = (k) => (OC.cfg.messages["metric." + k] ? metricText(k) : el("span", { translate: "no", text: k }));

  function renderLatest(latest) {
    const keys = Object.keys(latest).sort();
    $("latest").replaceChildren(
      ...keys.map((k) =>
        el("tr", {}, el("th", { scope: "row" }, metricLabel(k)), el("td", { class: "num", text: OC.unitValue(latest[k].value, latest[k].unit) }), el("td", { text: OC.dateTime(latest[k].ts) }))
      )
    );
    $("latest-none").hidden = keys.length > 0;
    const chosen = keySel.value;
    if (keys.join() !== Array.from(keySel.options, (o) => o.value).join()) {
      keySel.replaceChildren(...keys.map((k) => el("option", { value: k, translate: OC.cfg.messages["metric." + k] ? null : "no", text: metricText(k) })));
      if (keys.includes(chosen)) keySel.value = chosen;
    }
  }

  function renderDetails(d) {
    const rows = [
      ["device.id", d.id],
      ["device.type", OC.typeName(d.type)],
      ["device.department", OC.deptName(d.department)],
      ["device.district", OC.districtName(d)],
      ["device.status", t("status." + d.status)],
      ["device.connectivity", t("conn." + d.connectivity)],
      ["device.heartbeat", t("device.heartbeat_s", { s: d.heartbeat_s })],
      ["device.last_seen", d.last_seen_at ? OC.dateTime(d.last_seen_at) : t("map.never")],
      ["device.location", d.location ? d.location.coordinates.map((c) => c.toFixed(6)).join(", ") : "–"],
    ];
    $("details").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: t(k) }), el("dd", {}, v)]));
  }

  async function loadDevice() {
    try {
      const d = await api(base);
      show(errorBox, "");
      renderHeader(d);
      renderDelivery(d.delivery);
      renderLatest(d.latest);
      renderDetails(d);
      devFresh.mark();
      return d;
    } catch (err) {
      show(errorBox, err.status === 404 ? t("device.not_found") : t("err.generic", { detail: err.detail }));
      return null;
    }
  }

  async function loadChart() {
    const key = keySel.value;
    const figure = $("chart");
    if (csv) csv.hidden = !key;
    if (!key) {
      figure.replaceChildren(el("p", { class: "empty", text: t("chart.no_keys") }));
      return;
    }
    const spanS = Number(rangeSel.value);
    const bucket = spanS > 86400 ? 600 : 60;
    const end = new Date();
    const start = new Date(end.getTime() - spanS * 1000);
    const q = new URLSearchParams({ key: key, bucket: String(bucket), from: start.toISOString(), to: end.toISOString() });
    if (csv) csv.href = base + "/telemetry.csv?" + new URLSearchParams({ key: key, from: start.toISOString(), to: end.toISOString() });
    try {
      const r = await api(base + "/telemetry?" + q);
      OC.lineChart(figure, r.points, { key: metricText(key), start: start, end: end, bucketS: bucket });
      chartFresh.mark(r.as_of);
    } catch (err) {
      figure.replaceChildren(el("p", { class: "error", text: t("err.generic", { detail: err.detail }) }));
    }
  }

  async function loadAlerts() {
    try {
      const r = await api("/api/v1/alerts?" + new URLSearchParams({ state: "active", device_id: id }));
      $("dev-alerts").replaceChildren(...r.items.map((a) => OC.alertItem(a, { device: false })));
      $("dev-alerts-none").hidden = r.items.length > 0;
      alertFresh.mark(r.as_of);
    } catch (err) {
      show(errorBox, t("err.generic", { detail: err.detail }));
    }
  }

  async function loadAll() {
    if (await loadDevice()) await Promise.all([loadChart(), loadAlerts()]);
  }
  const reload = OC.debounce(loadAll, 250);
  keySel.addEventListener("change", loadChart);
  rangeSel.addEventListener("change", loadChart);
  const mine = (ev) => ev.payload && ev.payload.device_id === id;
  ["device.online", "device.offline", "alert.opened", "alert.acknowledged", "alert.resolved"].forEach((type) =>
    OC.live.on(type, (ev) => mine(ev) && reload())
  );
  OC.live.on("connected", reload);
  setInterval(loadAll, REFRESH_MS);
  loadAll();
  OC.live.start();
})();
