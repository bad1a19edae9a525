/* Login: POST /api/v1/auth/login sets the session cookie; a second factor is asked for only
   when the server says so (totp_required). */
(function () {
  "use strict";
  const { t, show } = OC;
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  const notice = document.getElementById("login-notice");
  const submit = document.getElementById("login-submit");
  const totpRow = document.getElementById("totp-row");
  const totp = document.getElementById("totp");
  const fields = { username: document.getElementById("username"), password: document.getElementById("password"), totp: totp };

  function fail(message, field) {
    show(error, message);
    for (const el of Object.values(fields)) el.removeAttribute("aria-invalid");
    const el = fields[field];
    if (el) {
      el.setAttribute("aria-invalid", "true");
      el.focus();
    }
  }

  function explain(err) {
    switch (err.code) {
      case "bad_credentials":
        return [t("login.err.bad_credentials"), "password"];
      case "account_locked":
      case "login_throttled": {
        const minutes = /(\d+) minute/.exec(err.detail || "");
        return [minutes ? t("login.err.account_locked_for", { minutes: minutes[1] }) : t("login.err.account_locked"), null];
      }
      case "totp_required":
        totpRow.hidden = false;
        return [t("login.err.totp_required"), "totp"];
      case "bad_totp":
        totpRow.hidden = false;
        totp.value = "";
        return [t("login.err.bad_totp"), "totp"];
      case "totp_enrolment_required":
        return [t("login.err.totp_enrolment_required"), null];
      case "invalid":
        return [t("login.err.invalid", { detail: err.detail }), err.field];
      case "network":
        return [t("login.err.network"), null];
      default:
        return [t("login.err.generic", { detail: err.detail }), null];
    }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { username: fields.username.value.trim(), password: fields.password.value };
    if (!body.username) return fail(t("login.err.missing"), "username");
    if (!body.password) return fail(t("login.err.missing"), "password");
    if (!totpRow.hidden && totp.value.trim()) body.totp = totp.value.trim();
    submit.disabled = true;
    submit.textContent = t("login.busy");
    try {
      await OC.api("/api/v1/auth/login", { json: body, noRedirect: true });
      location.assign(OC.page.next || "/dashboard");
      return;
    } catch (err) {
      show(notice, "");
      fail(...explain(err));
    }
    submit.disabled = false;
    submit.textContent = t("login.submit");
  });
})();
