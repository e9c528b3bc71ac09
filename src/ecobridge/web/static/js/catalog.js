// Area page: draw the area's outline and the sites found inside it with the shared map
// component (static/js/map.js). The sites come inline, as the page lists them (they are the
// result of the area query, which /api/v1/map/sites does not make). Without JavaScript the
// map stays empty and the lists on the page show every site.
(function () {
  "use strict";

  function readJson(id) {
    const node = document.getElementById(id);
    if (!node) return null;
    try {
      return JSON.parse(node.textContent);
    } catch (err) {
      return null;
    }
  }

  function start() {
    if (typeof window.ecobridgeMap !== "function") return;
    for (const element of document.querySelectorAll("[data-catalog-map]")) {
      const fit = (element.dataset.mapFit || "").split(",").map(Number);
      window.ecobridgeMap(element, {
        sites: readJson(element.id + "-sites") || { type: "FeatureCollection", features: [] },
        areas: element.dataset.mapAreas,
        fit: fit.length === 4 && fit.every(Number.isFinite) ? fit : undefined,
        cluster: false,
      });
    }
  }

  // map.js and this file are both deferred, so map.js has run by DOMContentLoaded.
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
