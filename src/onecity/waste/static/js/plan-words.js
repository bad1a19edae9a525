/* Collection plans in words, shared by the planner page and the crews' route: local clock
   times, a stop's kind, a plan's reason ("planned" / "re-planned at HH:MM: fire at X"), why a
   stop is on it or did not fit, and its travel model (all of which the server writes in
   English) in the page's language, and the city's today/tomorrow. */
(function () {
  "use strict";
  const { cfg, t } = OC;
  const P = (window.OCP = {});
  const one = new Intl.NumberFormat(cfg.lang, { maximumFractionDigits: 1 });
  const two = new Intl.NumberFormat(cfg.lang, { maximumFractionDigits: 2 });
  const REPLANNED = /^re-planned at (\d\d:\d\d): (\w+) at (.+)$/;

  P.one = (n) => one.format(n || 0);
  P.two = (n) => two.format(n || 0);
  P.hhmm = (v) => (v ? OC.time(v).slice(0, 5) : "–");
  P.kind = (k) => {
    const key = "waste.planner.kind." + k;
    return cfg.messages[key] ? t(key) : k;
  };

  /* The kind inside a sentence ("fire at X"), lower case where the language has cases. */
  P.what = (k) => {
    const key = "waste.planner.what." + k;
    return cfg.messages[key] ? t(key) : k;
  };

  /* `names` maps station ids to names, so the reason says where in words. */
  P.reason = function (raw, names) {
    if (raw === "planned") return t("waste.planner.reason_planned");
    const m = REPLANNED.exec(raw || "");
    if (!m) return raw || "";
    const station = (names && names.get(m[3])) || m[3];
    return t("waste.planner.reason_replanned", { time: m[1], kind: P.what(m[2]), station: station });
  };

  /* What the re-plan was for, without its time ("fire at iTrash X"), for the crew's banner. */
  P.cause = function (raw, names) {
    const m = REPLANNED.exec(raw || "");
    if (!m) return P.reason(raw, names);
    return t("waste.planner.cause", { kind: P.what(m[2]), station: (names && names.get(m[3])) || m[3] });
  };

  /* Why a stop is on the plan (or left out), from the server's English phrases: the known ones
     in the page's language, anything else as it came. */
  const WHY = [
    [/^urgent: (\w+)$/, (m) => t("waste.planner.why.urgent", { kind: P.what(m[1]) })],
    [/^will probably be full before the next shift$/, () => t("waste.planner.why.full")],
    [/^may be full before the next shift \((\d+)%\)$/, (m) => t("waste.planner.why.maybe", { pct: m[1] })],
    [/^not worth the detour$/, () => t("waste.planner.why.detour")],
    [/^already (\d+)% full$/, (m) => t("waste.planner.why.already", { pct: m[1] })],
    // why a stop did not fit (routing.Unserved)
    [/^no truck has room for its (\d+) kg$/, (m) => t("waste.planner.why.no_room_kg", { kg: m[1] })],
    [/^no truck has room for its ([\d.]+) m³$/, (m) => t("waste.planner.why.no_room_m3", { m3: m[1] })],
    [/^no truck can reach it before its window closes at (\d\d:\d\d)$/, (m) => t("waste.planner.why.window", { time: m[1] })],
    [/^no truck can serve it and be back at its depot before its shift ends$/, () => t("waste.planner.why.shift")],
    [/^the trucks cannot serve every must-visit stop within their shifts and loads$/, () => t("waste.planner.why.fleet")],
  ];
  P.why = function (raw) {
    return (raw || "")
      .split("; ")
      .map((part) => {
        for (const [re, say] of WHY) {
          const m = re.exec(part);
          if (m) return say(m);
        }
        return part;
      })
      .join(t("waste.planner.why_sep"));
  };

  /* The travel model a plan was made with ("great circle x 1.3 at 21.5 km/h", or the
     provider's name), in the page's language. */
  const CROW = /^great circle x ([\d.]+) at ([\d.]+) km\/h$/;
  P.travel = function (raw) {
    const m = CROW.exec(raw || "");
    if (m) return t("waste.planner.travel_crow", { detour: m[1], speed: P.one(Number(m[2])) });
    if (raw === "OsrmTable") return t("waste.planner.travel_osrm");
    return raw || "";
  };

  /* The city's date `days` after today, as YYYY-MM-DD. */
  P.day = function (days) {
    const [y, mo, d] = OCW.today().split("-").map(Number);
    return new Date(Date.UTC(y, mo - 1, d + days)).toISOString().slice(0, 10);
  };

  P.names = function (plan) {
    const names = new Map();
    if (!plan) return names;
    for (const r of plan.routes) for (const s of r.stops) names.set(s.station_id, s.station_name);
    for (const s of plan.left_out) names.set(s.station_id, s.station_name);
    return names;
  };
})();
