// The alerts page: say in the live region what became of a triage button's request (htmx swaps
// the alert's row on success and swaps nothing for an error answer). The map draws itself
// (static/js/map.js, data-map-auto).
(() => {
  "use strict";
  const page = document.getElementById("alerts-page");
  if (!page) return;
  const status = document.getElementById("alerts-status");
  const say = (text) => { if (status) status.textContent = text || ""; };

  document.body.addEventListener("htmx:responseError", (event) => {
    const code = event.detail.xhr.status;
    const key = code === 401 ? "msgSignin" : code === 403 ? "msgForbidden"
      : code === 409 ? "msgConflict" : "msgError";
    say(page.dataset[key]);
  });
  document.body.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail.target;
    if (target && target.id && target.id.startsWith("alert-")) say(page.dataset.msgDone);
  });
})();
