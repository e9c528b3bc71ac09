// The alerts page.
// - Triage: say in the live region what became of a triage button's request (htmx swaps the
//   alert's row on success and swaps nothing for an error answer).
// - Live: follow the server-sent events of /api/v1/alerts/stream (from the last event before
//   the page was rendered; EventSource resumes with Last-Event-ID after a reconnect). A new
//   alert that matches the page's filters gets its row (rendered by the server in the page's
//   language, GET /alerts/{id}/row) at the top of the list, a changed one has its row replaced;
//   the map is redrawn and the news is announced politely in the live region. For a reader
//   whose organisations have a country (data-own-countries), the list keeps the server's order:
//   the alerts on data shared from those countries first (the row says so: data-own-country),
//   then the rest, so a new row goes at the top of its own block.
// - Map: drawn here with the shared component (static/js/map.js), to keep its handle for
//   redrawing; this file runs before map.js and takes the figure out of its automatic drawing.
(() => {
  "use strict";
  const page = document.getElementById("alerts-page");
  if (!page) return;
  const status = document.getElementById("alerts-status");
  const say = (text) => { if (status) status.textContent = text || ""; };
  const mapEl = document.getElementById("alerts-map");
  if (mapEl) mapEl.removeAttribute("data-map-auto");
  let map = null;

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

  const severities = (page.dataset.severities || "").split(" ");
  const rank = (code) => severities.indexOf(code);

  // The page's filters, as the server applies them (alerts_page in web/alert_pages.py).
  function matches(alert) {
    const f = page.dataset;
    if (f.filterStatus && alert.status !== f.filterStatus) return false;
    if (f.filterSeverity && rank(alert.severity) < rank(f.filterSeverity)) return false;
    if (f.filterDataset && alert.dataset !== f.filterDataset) return false;
    if (f.filterIncident && String(alert.incident_id) !== f.filterIncident) return false;
    return true;
  }

  async function fetchRow(id) {
    const lang = encodeURIComponent(page.dataset.lang || "en");
    const response = await fetch(`/alerts/${id}/row?lang=${lang}`,
                                 { credentials: "same-origin" });
    if (!response.ok) return null;   // hidden from this reader since, or gone
    const holder = document.createElement("tbody");
    holder.innerHTML = (await response.text()).trim();
    return holder.querySelector("tr");
  }

  // A message with data values kept out of machine translation: "{name}" placeholders of the
  // translated text are filled with <span translate="no">.
  function announce(template, values) {
    if (!status || !template) return;
    status.textContent = "";
    for (const part of template.split(/(\{[a-z]+\})/)) {
      const key = part.match(/^\{([a-z]+)\}$/);
      if (key && key[1] in values) {
        const span = document.createElement("span");
        span.setAttribute("translate", "no");
        span.textContent = values[key[1]];
        status.appendChild(span);
      } else if (part) {
        status.appendChild(document.createTextNode(part));
      }
    }
  }

  function showCount() {
    const shown = document.getElementById("alerts-shown");
    const rows = document.querySelectorAll("table.alerts tbody tr").length;
    if (shown && page.dataset.msgShown) {
      shown.textContent = `(${page.dataset.msgShown.replace("{n}", String(rows))})`;
    }
  }

  function showTable() {
    const table = document.querySelector("table.alerts");
    const wrap = table && table.closest(".table-wrap");
    if (wrap) wrap.hidden = false;
    const empty = document.getElementById("alerts-empty");
    if (empty) empty.hidden = true;
  }

  let redraw = null;
  function redrawMap() {  // a burst of events redraws once
    if (!map || !mapEl) return;
    clearTimeout(redraw);
    redraw = setTimeout(() => { map.setSites(mapEl.dataset.mapSites).catch(() => {}); }, 400);
  }

  // Events are handled one at a time, in order, so rows land in the order they were raised.
  let queue = Promise.resolve();
  let fresh = [];
  let announceTimer = null;
  function flushNews() {
    if (fresh.length === 1) {
      const a = fresh[0];
      announce(page.dataset.msgNew, { rule: a.rule.name, station: a.station.name });
    } else if (fresh.length > 1) {
      announce(page.dataset.msgNewMany, { n: String(fresh.length) });
    }
    fresh = [];
  }

  // Where a new row goes: the top of the list, or for a reader with a country of their own,
  // the top of its block (own country's alerts first, as alerts_page lists them).
  const ownFirst = Boolean((page.dataset.ownCountries || "").trim());
  function insert(body, row) {
    const own = row.hasAttribute("data-own-country");
    if (!ownFirst || own) {
      body.prepend(row);
      if (own) ownListed(body);
      return;
    }
    const others = [...body.rows].find((tr) => !tr.hasAttribute("data-own-country"));
    if (others) others.before(row);
    else body.append(row);
  }

  // The note above the list counts the own country's alerts; if it said none was listed, it
  // now says that they come first.
  function ownListed(body) {
    const note = document.querySelector(".own-first");
    if (!note) return;
    if (note.dataset.ownCount === "0" && note.dataset.msgLeading) {
      note.textContent = note.dataset.msgLeading;
    }
    note.dataset.ownCount = String(body.querySelectorAll("tr[data-own-country]").length);
  }

  async function handle(event) {
    let data;
    try { data = JSON.parse(event.data); } catch (e) { return; }
    const alert = data && data.alert;
    if (!alert || typeof alert.id !== "number") return;
    const existing = document.getElementById(`alert-${alert.id}`);
    const isNew = !existing && (data.type === "alert.opened" || data.type === "alert.reopened");
    if (!existing && !isNew) return;
    if (isNew && !matches(alert)) return;
    const row = await fetchRow(alert.id);
    if (!row) return;
    const body = document.querySelector("table.alerts tbody");
    if (!body) return;
    const current = document.getElementById(`alert-${alert.id}`);
    if (current) {
      current.replaceWith(row);
    } else {
      insert(body, row);
      fresh.push(alert);
      clearTimeout(announceTimer);
      announceTimer = setTimeout(flushNews, 300);
    }
    if (window.htmx) window.htmx.process(row);
    showTable();
    showCount();
    redrawMap();
  }

  const KINDS = ["opened", "updated", "escalated", "resolved", "reopened", "retracted",
                 "acknowledged"];
  function listen() {
    if (!page.dataset.stream || !window.EventSource) return;
    const source = new EventSource(page.dataset.stream);
    for (const kind of KINDS) {
      source.addEventListener(`alert.${kind}`, (event) => {
        queue = queue.then(() => handle(event)).catch(() => {});
      });
    }
    page.setAttribute("data-live", "listening");
    window.addEventListener("pagehide", () => source.close());
  }

  function drawMap() {
    if (!mapEl || !window.ecobridgeMap) return;
    const fit = mapEl.dataset.mapFit ? mapEl.dataset.mapFit.split(",").map(Number) : undefined;
    map = window.ecobridgeMap(mapEl, { sites: mapEl.dataset.mapSites,
                                       areas: mapEl.dataset.mapAreas, fit });
  }

  // map.js and htmx are deferred after this file (which runs while readyState is already
  // "interactive"): both are there at DOMContentLoaded, or at the latest at load.
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    drawMap();
    listen();
  };
  if (document.readyState === "complete") start();
  else {
    document.addEventListener("DOMContentLoaded", start);
    window.addEventListener("load", start);
  }
})();
