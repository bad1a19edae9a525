/* One alert as a list item, for the dashboard's live panel and the device page. */
(function () {
  "use strict";
  const { t, el } = OC;

  /* Today's alerts show the time; older ones the date too. */
  OC.when = (v) => {
    const d = OC.parseTime(v);
    return Date.now() - d.getTime() < 20 * 3600 * 1000 ? OC.time(d) : OC.dateTime(d);
  };

  /* A value as its unit says: a share 0.808 is "81%", a temperature "61 °C", a weight "kg". */
  OC.unitValue = (v, unit) => {
    if (typeof v !== "number") return "–";
    if (unit === "share") return OC.percent(v);
    if (unit === "celsius") return t("unit.celsius", { n: v.toLocaleString(OC.cfg.lang, { maximumFractionDigits: 1 }) });
    if (unit === "kg") return OC.kg(v);
    return OC.num(v);
  };
  const metricName = (key) => (OC.cfg.messages["metric." + key] ? t("metric." + key) : key);

  /* The alert's sentence in the page's language, from its facts: a threshold alert's rule
     name (stored per language), metric, value and limit; an offline alert's last data; another
     kind's "alerts.<kind>" sentence filled with its params. An alert without them (older rows,
     a rule not named in this language) shows its stored sentence. */
  OC.alertMessage = (a) => {
    if (a.kind === "offline") return offlineMessage(a);
    if (a.kind === "threshold" && a.metric && typeof a.threshold === "number") {
      const rule = a.rule_name && a.rule_name[OC.cfg.lang];
      if (!rule) return a.message;
      const vars = { rule: rule, metric: metricName(a.metric), value: OC.unitValue(a.value, a.unit), limit: OC.unitValue(a.threshold, a.unit) };
      return t("alerts.threshold", vars);
    }
    if (a.params && OC.cfg.messages["alerts." + a.kind]) return t("alerts." + a.kind, a.params);
    return a.message;
  };

  function offlineMessage(a) {
    const since = /since (\S+)$/.exec(a.message);
    if (!since) return a.message;
    if (since[1] === "never") return t("alerts.offline_never");
    const when = OC.parseTime(since[1]);
    return isNaN(when.getTime()) ? a.message : t("alerts.offline_since", { time: OC.dateTime(when) });
  }

  OC.alertItem = function (a, opts) {
    opts = opts || {};
    const li = el(
      "li",
      { class: "alert sev-" + a.severity + " state-" + a.state, "data-alert-id": a.id },
      el(
        "div",
        { class: "alert-top" },
        el("span", { class: "sev sev-" + a.severity, text: t("sev." + a.severity) }),
        el("span", { class: "alert-state", text: t("state." + a.state) }),
        el("time", { datetime: a.opened_at, text: OC.when(a.opened_at), title: OC.dateTime(a.opened_at) })
      ),
      opts.device === false
        ? null
        : el("a", { class: "alert-device", href: "/devices/" + encodeURIComponent(a.device_id) }, OC.name(a.device_name)),
      el("p", { class: "alert-msg", text: OC.alertMessage(a) })
    );
    if (opts.onLocate && a.location) {
      li.querySelector(".alert-top").append(
        el("button", { type: "button", class: "link-btn", text: t("alerts.show_on_map"), onclick: () => opts.onLocate(a) })
      );
    }
    return li;
  };
})();
