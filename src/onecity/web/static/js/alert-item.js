/* One alert as a list item, for the dashboard's live panel and the device page. */
(function () {
  "use strict";
  const { t, el } = OC;

  /* Today's alerts show the time; older ones the date too. */
  OC.when = (v) => {
    const d = OC.parseTime(v);
    return Date.now() - d.getTime() < 20 * 3600 * 1000 ? OC.time(d) : OC.dateTime(d);
  };

  /* The alert's sentence. Offline alerts are worded here, in the page's language; rule
     alerts carry the rule's own name, which is the city's data. */
  OC.alertMessage = (a) => {
    if (a.kind !== "offline") return a.message;
    const since = /since (\S+)$/.exec(a.message);
    if (!since) return a.message;
    if (since[1] === "never") return t("alerts.offline_never");
    const when = OC.parseTime(since[1]);
    return isNaN(when.getTime()) ? a.message : t("alerts.offline_since", { time: OC.dateTime(when) });
  };

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
        : el("a", { class: "alert-device", href: "/devices/" + encodeURIComponent(a.device_id), text: a.device_name }),
      el("p", { class: "alert-msg", text: OC.alertMessage(a), title: a.message })
    );
    if (opts.onLocate && a.location) {
      li.querySelector(".alert-top").append(
        el("button", { type: "button", class: "link-btn", text: t("alerts.show_on_map"), onclick: () => opts.onLocate(a) })
      );
    }
    return li;
  };
})();
