/*
 * ecobridge map: one small component for every page that shows sites or areas on a map.
 * Plain ES2020, no build step; needs the vendored MapLibre (global `maplibregl`) and
 * basemap.js (global `ebBasemap`: the base map tiles and MapLibre's early worker), both loaded
 * before this file.
 *
 * In a template (the easy way):
 *   {% import "partials/map.html" as maps with context %}
 *   {% block head %}{{ maps.assets() }}{% endblock %}  <- MapLibre, basemap.js, map.js, messages
 *   {{ maps.figure("my-map", _("Map of ..."), sites="/api/v1/map/sites?dataset=x",
 *                  areas="/api/v1/map/areas?area=12", fit=[w, s, e, n], legend=[...]) }}
 *   The figure holds the translated note "Borders are shown de facto (Natural Earth)" and draws
 *   itself when this file loads (elements with `data-map-auto`).
 *
 * From your own script (after maps.assets()):
 *   const m = ecobridgeMap(element, {
 *     sites: "/api/v1/map/sites" | GeoJSON FeatureCollection of points,  (optional)
 *     areas: "/api/v1/map/areas?dataset=x" | GeoJSON FeatureCollection,  (optional)
 *     fit: [west, south, east, north],    (optional; default: the extent of sites, else areas)
 *     onSiteClick: (properties, lngLat) => boolean,  (optional; return false: no popup)
 *     onAreaClick: (properties, lngLat) => boolean,  (optional)
 *     areasLater: true,                    (optional; areas are fetched and drawn after the
 *                                           sites: `ready` waits for the sites only)
 *     basemap: URL of country outlines as GeoJSON (optional; default: the server's PNG tiles
 *              /api/v1/map/basemap/{z}/{x}/{y}.png?scale=2, a raster layer of 512-pixel tiles),
 *     cluster: true,                       (cluster sites; false for a few sites)
 *   });
 *   m.ready        a Promise resolved once the sites and areas are drawn (the sites only with
 *                  areasLater; rejected, with a message shown in the map, if it cannot be drawn)
 *   m.map          the maplibregl.Map: built once its view is known (the `fit` option, else
 *                  when the sites and areas arrived), so use it after `await m.ready`
 *   m.setSites(x)  / m.setAreas(x): new URL or GeoJSON (e.g. after a filter); resolves when drawn
 *   m.fitTo([w, s, e, n])
 * The map is built with its bounds already known, so each source is cut into tiles once, at
 * the final zoom: with `fit` at once (the sites join when they arrive, while the base map tiles,
 * shaders and worker get going), else when the sites and areas arrived, from their extent.
 *
 * Site features carry properties {id, kind: "station"|"deployment", name, dataset, domain,
 * country, generalised?, alert?}; the sites endpoint adds a top-level `datasets` object
 * {slug: {title}} used in popups. Area features carry {id, name, kind, approximate?}.
 * Popups link a station to /stations/{id}, a deployment to /datasets/{slug}, an area to
 * /areas/{id}; every site in view and every area (up to 200) has a focusable marker button.
 * Colours come from the CSS custom properties --eb-domain-<domain> (style.css).
 * Endpoints (web/maps.py): /api/v1/map/sites?dataset=&domain=&lang=, /api/v1/map/areas?dataset=
 * &kind=&area=&lang=, /api/v1/map/basemap/{z}/{x}/{y}.png?scale=2; maps.assets(preload=[urls])
 * fetches and parses them in the page's head (window.ebMapEarly), where MapLibre's worker (the
 * CSP build's, a file of its own) is started too: see `startWorker` and `takeEarly` (basemap.js).
 *
 * The base map is a raster of PNG tiles drawn by the server: without a GPU, triangulating and
 * drawing 10k points of country outlines cost the browser far more than a few textures. With
 * fadeDuration 0 and no transitions, the first frame with every tile is the final one. Until
 * the view first moves, those tiles are images behind the canvas (`stillBasemap`, basemap.js).
 *
 * Until its data are in, the map draws small and hidden (`sharpen` below), then one full frame.
 * Ready flag for tests and the benchmark: the container gets data-ready="true" when the map is
 * idle after its sources were loaded and that full-size frame was drawn (data-ready="error" and
 * a message if it cannot be drawn;
 * with areasLater, data-areas-ready="true" follows once the areas are drawn too);
 * it has aria-busy="true" while the view moves (after a zoom, wait for it to go).
 * Nothing is fetched from outside this server: the only tiles are this server's base map, and
 * the style has no sprite or glyphs, so cluster counts and site buttons are HTML markers, which
 * are also what the keyboard reaches.
 */
(function () {
  "use strict";

  const { takeEarly, stillBasemap, rasterBasemap, startWorker } = window.ebBasemap;
  const DEFAULT_VIEW = [20, 0, 150, 65];
  const DOMAINS = ["air", "water", "glacier", "wildlife", "biodiversity", "energy", "climate"];
  const MAX_MARKERS = 400;
  const MAX_AREA_MARKERS = 200;
  // Pixel ratio of the frames drawn while the data arrive (see `sharpen`).
  const DRAFT_PIXEL_RATIO = 1 / 8;

  let messageCache = null;
  function messages() {
    if (messageCache) return messageCache;
    const el = document.getElementById("ecobridge-map-messages");
    try { messageCache = el ? JSON.parse(el.textContent) : {}; } catch (e) { messageCache = {}; }
    return messageCache;
  }

  function t(key, vars) {
    let text = messages()[key] || key;
    for (const [name, value] of Object.entries(vars || {})) {
      text = text.split("%(" + name + ")s").join(String(value));
    }
    return text;
  }

  function cssColour(name, fallback) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function palette() {
    const other = cssColour("--eb-domain-other", "#5b6b66");
    const colours = {};
    for (const d of DOMAINS) colours[d] = cssColour("--eb-domain-" + d, other);
    return { colours, other, alert: cssColour("--eb-alert", "#b3261e"),
             land: cssColour("--eb-map-land", "#f3f1ea"),
             sea: cssColour("--eb-map-sea", "#d7e6ee"),
             border: cssColour("--eb-map-border", "#9a9889"),
             area: cssColour("--eb-map-area", "#2f7d32"),
             cluster: cssColour("--eb-map-cluster", "#263238") };
  }

  async function load(source) {
    if (source == null) return null;
    if (typeof source !== "string") return source;
    // a plain same-origin GET, so it takes a <link rel="preload" as="fetch" crossorigin>
    const response = await fetch(source, { credentials: "same-origin" });
    if (!response.ok) throw new Error(source + ": HTTP " + response.status);
    return response.json();
  }

  function extent(collection) {
    let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
    const visit = (c) => {
      if (typeof c[0] === "number") {
        w = Math.min(w, c[0]); e = Math.max(e, c[0]); s = Math.min(s, c[1]); n = Math.max(n, c[1]);
      } else c.forEach(visit);
    };
    for (const f of (collection && collection.features) || []) {
      if (f.geometry) visit(f.geometry.coordinates);
    }
    return w === Infinity ? null : [w, s, e, n];
  }

  const EMPTY = () => ({ type: "FeatureCollection", features: [] });

  function domainColour(colours) {
    const match = ["match", ["get", "domain"]];
    for (const [d, c] of Object.entries(colours.colours)) match.push(d, c);
    match.push(colours.other);
    return match;
  }

  // The whole style in code: no tiles, sprite or glyphs, so nothing is fetched from outside.
  // Sites and areas are in it from the start, so every source is tiled once, in parallel.
  // Few layer kinds, because without a GPU (software WebGL) each shader program takes tens of
  // milliseconds to compile: the sea is the container's background colour, not a layer; fills
  // have no antialiased outline (the border lines are drawn anyway); one circle layer draws
  // both clusters and sites. No transitions: the first frame with data is the final one.
  // Outlines are cut into tiles with a small buffer (32 of 512 pixels, default 128): less to
  // triangulate per tile, still wider than any line drawn; sites keep the default, for the
  // largest cluster circles.
  function baseLayers(colours, basemap) {
    if (!basemap) return [];  // the tiles: stillBasemap(), then rasterBasemap()
    return [
      { id: "countries", type: "fill", source: "basemap",
        paint: { "fill-color": colours.land, "fill-antialias": false } },
      { id: "borders", type: "line", source: "basemap",
        paint: { "line-color": colours.border, "line-width": 0.7 } },
    ];
  }

  function style(options, colours, basemap, sites, areas) {
    const polygon = ["in", ["geometry-type"], ["literal", ["Polygon", "MultiPolygon"]]];
    const cluster = ["has", "point_count"];
    const alert = ["case", cluster, [">", ["get", "alerts"], 0], ["has", "alert"]];
    return {
      version: 8,
      transition: { duration: 0, delay: 0 },
      sources: {
        ...(basemap ? { basemap: { type: "geojson", data: basemap, attribution: "Natural Earth",
                                   buffer: 32 } } : {}),
        areas: { type: "geojson", data: areas || EMPTY(), buffer: 32 },
        sites: { type: "geojson", data: sites || EMPTY(), cluster: options.cluster !== false,
                 clusterRadius: 42, clusterMaxZoom: 9,
                 clusterProperties: { alerts: ["+", ["case", ["has", "alert"], 1, 0]] } },
      },
      layers: [
        ...baseLayers(colours, basemap),
        { id: "areas-fill", type: "fill", source: "areas", filter: polygon,
          paint: { "fill-color": colours.area, "fill-opacity": 0.18, "fill-antialias": false } },
        { id: "areas-line", type: "line", source: "areas", filter: polygon,
          paint: { "line-color": colours.area, "line-width": 1.5 } },
        // clusters and single sites in one layer: one shader program to compile, not two
        { id: "sites", type: "circle", source: "sites",
          paint: { "circle-color": ["case", cluster, colours.cluster, domainColour(colours)],
                   "circle-radius": ["case", cluster,
                     ["step", ["get", "point_count"], 13, 10, 16, 100, 20, 1000, 25], 6],
                   "circle-opacity": ["case", ["has", "generalised"], 0.65, 1],
                   "circle-stroke-width": ["case", alert, 3, 1.5],
                   "circle-stroke-color": ["case", alert, colours.alert, "#ffffff"] } },
      ],
    };
  }

  function link(href, text) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  }

  function para(text, className) {
    const p = document.createElement("p");
    p.textContent = text;
    if (className) p.className = className;
    return p;
  }

  function sitePopup(props, datasets) {
    const box = document.createElement("div");
    box.className = "eb-popup";
    const title = document.createElement("strong");
    title.textContent = props.name || "";
    title.setAttribute("translate", "no");
    box.appendChild(title);
    if (props.dataset) {
      const ds = datasets[props.dataset];
      const dsLine = para(ds ? ds.title : props.dataset, "eb-popup-dataset");
      dsLine.setAttribute("translate", "no");
      box.appendChild(dsLine);
    }
    if (props.alert) box.appendChild(para(t("alert", { severity: t(props.alert) }), "eb-popup-alert"));
    if (props.generalised) box.appendChild(para(t("generalised"), "eb-popup-note"));
    const links = document.createElement("p");
    if (props.kind === "station" && props.id != null) {
      links.appendChild(link("/stations/" + props.id, t("station")));
    } else if (props.dataset) {
      links.appendChild(link("/datasets/" + encodeURIComponent(props.dataset), t("dataset")));
    }
    if (links.childNodes.length) box.appendChild(links);
    return box;
  }

  function areaPopup(props) {
    const box = document.createElement("div");
    box.className = "eb-popup";
    const title = document.createElement("strong");
    title.textContent = props.name;
    title.setAttribute("translate", "no");
    box.appendChild(title);
    if (props.approximate) box.appendChild(para(t("approximate"), "eb-popup-note"));
    if (props.id != null) {
      const links = document.createElement("p");
      links.appendChild(link("/areas/" + props.id, t("area")));
      box.appendChild(links);
    }
    return box;
  }

  function ecobridgeMap(element, options) {
    options = options || {};
    const el = typeof element === "string" ? document.querySelector(element) : element;
    el.removeAttribute("data-ready");
    const colours = palette();
    el.style.backgroundColor = colours.sea;  // the sea: no background layer to draw
    const state = { map: null, datasets: {}, markers: new Map(), areaMarkers: [],
                    popup: null, focusAt: null };
    // all fetched at once, before the map exists (base map tiles are cached by the browser)
    const basemapData = load(options.basemap);
    // the page's head may have fetched them already (partials/map.html): if they are in when
    // the map is built, they are in its style from the start (one pass through the worker)
    const sitesEarly = typeof options.sites === "string" ? takeEarly(options.sites) : null;
    const sitesData = sitesEarly ? sitesEarly.promise : load(options.sites);
    const areasData = options.areasLater ? null : load(options.areas);

    function openPopup(lngLat, content) {
      if (state.popup) state.popup.remove();
      state.popup = new maplibregl.Popup({ maxWidth: "18rem", focusAfterOpen: true })
        .setLngLat(lngLat).setDOMContent(content).addTo(state.map);
    }

    function clickSite(props, lngLat) {
      if (options.onSiteClick && options.onSiteClick(props, lngLat) === false) return;
      openPopup(lngLat, sitePopup(props, state.datasets));
    }

    function clickArea(props, lngLat) {
      if (options.onAreaClick && options.onAreaClick(props, lngLat) === false) return;
      openPopup(lngLat, areaPopup(props));
    }

    async function zoomInto(props, lngLat) {
      const map = state.map;
      let zoom = map.getZoom() + 2;
      try {
        zoom = await map.getSource("sites").getClusterExpansionZoom(props.cluster_id);
      } catch (e) { /* keep the default step */ }
      // the cluster's marker goes away: keyboard focus moves to the nearest new marker
      state.focusAt = document.activeElement && document.activeElement.classList.contains(
        "eb-cluster") ? lngLat : null;
      map.easeTo({ center: lngLat, zoom: Math.min(zoom, map.getMaxZoom()) });
    }

    function focusNear() {
      if (!state.focusAt) return;
      const [x, y] = state.focusAt;
      let best = null, distance = Infinity;
      for (const marker of state.markers.values()) {
        const p = marker.getLngLat();
        const d = (p.lng - x) ** 2 + (p.lat - y) ** 2;
        if (d < distance) { distance = d; best = marker; }
      }
      state.focusAt = null;
      if (best) best.getElement().focus();
    }

    function markerFor(key, feature) {
      const props = feature.properties;
      const lngLat = feature.geometry.coordinates.slice(0, 2);
      if (state.markers.has(key)) return;
      const button = document.createElement("button");
      button.type = "button";
      if (props.cluster) {
        button.className = "eb-marker eb-cluster";
        button.textContent = String(props.point_count);
        button.setAttribute("aria-label", t("cluster", { n: props.point_count }));
        button.addEventListener("click", (ev) => { ev.stopPropagation(); zoomInto(props, lngLat); });
      } else {
        button.className = "eb-marker eb-site";
        button.setAttribute("aria-label", props.name || t("Marker.Title"));
        button.setAttribute("translate", "no");
        button.addEventListener("click", (ev) => { ev.stopPropagation(); clickSite(props, lngLat); });
      }
      state.markers.set(key, new maplibregl.Marker({ element: button }).setLngLat(lngLat)
        .addTo(state.map));
    }

    // HTML markers over the circles: cluster counts (no glyphs needed) and a focusable button
    // per site in view, so the keyboard reaches every site; capped for very dense views.
    function updateMarkers() {
      const map = state.map;
      if (!map || !map.getSource("sites")) return;
      const bounds = map.getBounds();
      const keep = new Set();
      for (const f of map.querySourceFeatures("sites")) {
        const p = f.properties;
        const key = p.cluster ? "c" + p.cluster_id
          : p.id != null ? (p.kind || "") + ":" + p.id : "@" + f.geometry.coordinates.join(",");
        if (keep.has(key) || keep.size >= MAX_MARKERS) continue;
        if (!bounds.contains(f.geometry.coordinates)) continue;
        keep.add(key);
        markerFor(key, f);
      }
      for (const [key, marker] of state.markers) {
        if (!keep.has(key)) { marker.remove(); state.markers.delete(key); }
      }
    }

    function drawn() {
      return new Promise((resolve) => state.map.once("idle", () => { updateMarkers(); resolve(); }));
    }

    function clearMarkers() {
      for (const marker of state.markers.values()) marker.remove();
      state.markers.clear();
    }

    function fitTo(bbox) {
      if (!bbox || !state.map) return;
      state.map.fitBounds(padded(bbox), { padding: 40, maxZoom: 7, animate: false });
    }

    function build(basemap, sites, areas) {
      const locale = {};
      for (const [key, value] of Object.entries(messages())) {
        if (key.includes(".")) locale[key] = value;
      }
      // Bounds known before the first frame: every source is tiled once, at the final zoom.
      const bounds = options.fit || extent(sites) || extent(areas) || DEFAULT_VIEW;
      const map = new maplibregl.Map({
        container: el, style: style(options, colours, basemap, sites, areas), bounds: padded(bounds),
        fitBoundsOptions: { padding: 40, maxZoom: 7 }, attributionControl: false,
        locale: locale, dragRotate: false, pitchWithRotate: false, maxZoom: 16,
        renderWorldCopies: false, fadeDuration: 0, pixelRatio: DRAFT_PIXEL_RATIO,
      });
      el.classList.add("eb-map-drafting");
      state.map = map;
      if (!basemap) state.still = stillBasemap(map, el, () => state.sharpening);
      map.touchZoomRotate.disableRotation();
      map.keyboard.disableRotation();
      map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
      // the raster base map's source joins later (rasterBasemap): its attribution is here at once
      map.addControl(new maplibregl.AttributionControl(
        { compact: false, customAttribution: basemap ? undefined : "Natural Earth" }),
        "bottom-right");
      map.on("click", "areas-fill", (ev) => {
        if (ev.features && ev.features.length) clickArea(ev.features[0].properties, ev.lngLat);
      });
      map.on("click", "sites", (ev) => {
        // a cluster's own button (over its circle) zooms in; a click on a site opens its popup
        const site = ev.features && ev.features.find((f) => !f.properties.cluster);
        if (site) clickSite(site.properties, ev.lngLat);
      });
      for (const layer of ["areas-fill", "sites"]) {
        map.on("mouseenter", layer, () => { map.getCanvas().style.cursor = "pointer"; });
        map.on("mouseleave", layer, () => { map.getCanvas().style.cursor = ""; });
      }
      // aria-busy while the view changes, so assistive technology (and tests) wait for it
      // markers follow the tiles in use: at moveend the new zoom's tiles may still be loading
      map.on("movestart", () => el.setAttribute("aria-busy", "true"));
      map.on("moveend", updateMarkers);
      map.on("idle", () => {
        updateMarkers();
        focusNear();
        el.removeAttribute("aria-busy");
      });
      // 'idle' follows 'load' within the same frame: listen for it from the load handler
      return new Promise((resolve, reject) => {
        map.once("load", () => map.once("idle", resolve));
        map.once("error", (ev) => reject(ev.error || new Error("map error")));
      });
    }

    // One button per area (up to MAX_AREA_MARKERS) at the middle of its extent, so the
    // keyboard reaches the areas drawn as fills too.
    function areaMarkers(areas) {
      for (const marker of state.areaMarkers) marker.remove();
      state.areaMarkers = [];
      const features = (areas && areas.features) || [];
      if (features.length > MAX_AREA_MARKERS) return;
      for (const f of features) {
        const box = extent({ features: [f] });
        if (!box) continue;
        const lngLat = [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2];
        const button = document.createElement("button");
        button.type = "button";
        button.className = "eb-marker eb-area";
        button.setAttribute("aria-label", f.properties.name || t("Marker.Title"));
        button.setAttribute("translate", "no");
        button.addEventListener("click", (ev) => {
          ev.stopPropagation();
          clickArea(f.properties, lngLat);
        });
        state.areaMarkers.push(new maplibregl.Marker({ element: button }).setLngLat(lngLat)
          .addTo(state.map));
      }
    }

    // With its view given (`fit`), the map is built at once and the sites join it when they
    // arrive: its base map tiles, shaders and worker get going while the sites are on their way.
    async function buildEarly(basemap, areas) {
      const loaded = build(basemap, null, areas);
      const map = state.map;
      const styled = map.getSource("sites") ? null
        : new Promise((resolve) => map.once("style.load", resolve));
      const sites = await sitesData;
      if (!sites || !sites.features || !sites.features.length) return loaded;
      state.datasets = sites.datasets || {};
      if (styled) await styled;
      map.getSource("sites").setData(sites);
      // the sites' tiles are pending now: the next 'idle' is the one with them drawn
      return Promise.all([loaded, new Promise((resolve) => map.once("idle", resolve))]);
    }

    // MapLibre draws a frame for each thing that arrives (the style, each base map tile, the
    // sites' tiles from the worker), and without a GPU each frame costs 50-250 ms at full size
    // (software WebGL, read back for the compositor). So until everything is in, the frames
    // are drafts on a canvas an eighth the size, hidden (the sea colour shows); then the canvas
    // gets its real size and ONE frame is drawn, with every tile and site: what `ready` waits for.
    async function sharpen() {
      const map = state.map;
      const drawn = new Promise((resolve) => map.once("idle", resolve));
      state.sharpening = true;
      map.setPixelRatio(null);  // the device's own again
      state.sharpening = false;
      await drawn;
      el.classList.remove("eb-map-drafting");
    }

    const ready = (async () => {
      let areas;
      const sitesIn = sitesEarly && sitesEarly.done;
      if (options.fit && typeof options.sites === "string" && !sitesIn) {
        let basemap;
        [basemap, areas] = await Promise.all([basemapData, areasData]);
        await buildEarly(basemap, areas);
      } else {
        let basemap, sites;
        [basemap, sites, areas] = await Promise.all([basemapData, sitesData, areasData]);
        state.datasets = (sites && sites.datasets) || {};
        await build(basemap, sites, areas);
      }
      await Promise.all([sharpen(), state.still]);
      if (areas) areaMarkers(areas);
      updateMarkers();
      el.setAttribute("data-ready", "true");
      // MapLibre loads the tiles now, drawing nothing of them until the view first moves
      if (state.still && !state.map.getLayer("countries")) rasterBasemap(state.map, 0);
    })();
    ready.catch((err) => fail(el, err));
    if (options.areasLater && options.areas) {
      ready.then(() => setAreas(options.areas))
        .then(() => el.setAttribute("data-areas-ready", "true"))
        .catch((err) => { if (window.console) console.error("ecobridge map areas:", err); });
    }

    async function setSites(source) {
      await ready;
      const data = (await load(source)) || EMPTY();
      state.datasets = data.datasets || {};
      clearMarkers();
      state.map.getSource("sites").setData(data);
      return drawn();
    }

    async function setAreas(source) {
      await ready;
      const data = (await load(source)) || EMPTY();
      state.map.getSource("areas").setData(data);
      areaMarkers(data);
      return drawn();
    }

    return {
      get map() { return state.map; },
      ready, fitTo, setSites, setAreas,
    };
  }

  function padded(bbox) {
    const [w, s, e, n] = bbox;
    const pad = w === e && s === n ? 0.5 : 0;   // a single point: a small box around it
    return [[w - pad, s - pad], [e + pad, n + pad]];
  }

  function fail(el, err) {
    el.setAttribute("data-ready", "error");
    const note = document.createElement("p");
    note.className = "eb-map-error";
    note.setAttribute("role", "status");
    note.textContent = t("failed");
    el.appendChild(note);
    if (window.console) console.error("ecobridge map:", err);
  }

  function auto() {
    for (const el of document.querySelectorAll("[data-map-auto]")) {
      if (el.dataset.mapStarted) continue;
      el.dataset.mapStarted = "true";
      const fit = el.dataset.mapFit ? el.dataset.mapFit.split(",").map(Number) : undefined;
      ecobridgeMap(el, { sites: el.dataset.mapSites, areas: el.dataset.mapAreas, fit,
                         areasLater: el.hasAttribute("data-map-areas-later") });
    }
  }

  // MapLibre's worker compiles its code before it can cut the first tile: start it now (if the
  // head has not), while the page's data arrive, not when the first map is built.
  startWorker();
  window.ecobridgeMap = ecobridgeMap;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", auto);
  else auto();
})();
