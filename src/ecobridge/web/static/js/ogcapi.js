/*
 * Map on the OGC API items pages: draws the page's own features (its JSON twin) with the shared
 * map component (map.js, loaded before this file). The table on the page holds the same data,
 * so the page is complete without this script.
 * Feature properties are reshaped into what map.js shows in its popups: sites link to their
 * station page, occurrences to their dataset, areas to their area page.
 */
(function () {
  "use strict";

  function siteProps(collection, f) {
    const p = f.properties;
    if (collection === "sites") {
      return { id: f.id, kind: "station", name: p.name, dataset: p.dataset,
               generalised: p.location_generalised };
    }
    return { id: f.id, kind: "occurrence", name: p.scientific_name, dataset: p.dataset,
             generalised: p.location_generalised };
  }

  async function draw(el) {
    const collection = el.dataset.collection;
    const response = await fetch(el.dataset.ogcapiItems, { headers: { Accept: "application/geo+json" } });
    if (!response.ok) throw new Error("items: " + response.status);
    const page = await response.json();
    if (!page.features.some((f) => f.geometry)) { el.closest("figure").hidden = true; return; }
    if (collection === "areas") {
      const areas = { type: "FeatureCollection", features: page.features.map((f) => ({
        type: "Feature", id: f.id, geometry: f.geometry,
        properties: { id: f.id, name: f.properties.name, kind: f.properties.kind,
                      approximate: f.properties.approximate } })) };
      window.ecobridgeMap(el, { areas });
      return;
    }
    const sites = { type: "FeatureCollection", features: page.features
      .filter((f) => f.geometry)
      .map((f) => ({ type: "Feature", id: f.id, geometry: f.geometry,
                     properties: siteProps(collection, f) })) };
    window.ecobridgeMap(el, { sites, cluster: sites.features.length > 50 });
  }

  function start() {
    for (const el of document.querySelectorAll("[data-ogcapi-items]")) {
      if (!window.ecobridgeMap) return;
      draw(el).catch((err) => {
        el.setAttribute("data-ready", "error");
        if (window.console) console.error("ogcapi map:", err);
      });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
