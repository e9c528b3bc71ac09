/*
 * ecobridge map, base map part: what map.js (loaded after this file, both deferred after
 * MapLibre's CSP build) uses to get the base map and MapLibre's worker going early.
 * Plain ES2020, no build step; exposes `window.ebBasemap`
 * {TILES, TILE_MAX_ZOOM, takeEarly, viewTiles, stillBasemap, rasterBasemap, startWorker}.
 *
 * The base map is a raster of PNG tiles drawn by the server (web/maps.py,
 * /api/v1/map/basemap/{z}/{x}/{y}.png?scale=2): without a GPU, triangulating and drawing 10k
 * points of country outlines cost the browser far more than a few textures. Until the view
 * first moves, those tiles are images behind the canvas (`stillBasemap`); then MapLibre's
 * raster layer (`rasterBasemap`). The page's head (partials/map.html: window.ebMapEarly)
 * starts MapLibre's worker and fetches the preloaded data: `startWorker` hands that worker to
 * MapLibre, `takeEarly` the data to the map.
 */
(function () {
  "use strict";

  // 512-pixel tiles (the area of a 256-pixel XYZ tile, drawn twice as wide): a map needs a
  // third as many as of 256 pixels, so fewer requests, textures and draw calls
  const TILES = "/api/v1/map/basemap/{z}/{x}/{y}.png?scale=2";
  const TILE_MAX_ZOOM = 6;   // the source's maxzoom: deeper views stretch these tiles

  // What the page's head started (partials/map.html), taken once: a later setSites(url) fetches
  // again.
  function takeEarly(url) {
    const data = window.ebMapEarly && window.ebMapEarly.data;
    const found = data && data[url];
    if (found) delete data[url];
    return found || null;
  }

  // The base map tiles in the map's view: the same as MapLibre's own (512-pixel tiles at the
  // map's rounded zoom), so its requests for them later find them in the browser's cache.
  function viewTiles(map) {
    const z = Math.max(0, Math.min(TILE_MAX_ZOOM, Math.round(map.getZoom())));
    const n = 2 ** z;
    const column = (lng) => Math.min(n - 1, Math.max(0, Math.floor((lng + 180) / 360 * n)));
    const row = (lat) => {
      const y = Math.asinh(Math.tan(Math.max(-85.05, Math.min(85.05, lat)) * Math.PI / 180));
      return Math.min(n - 1, Math.max(0, Math.floor((1 - y / Math.PI) / 2 * n)));
    };
    const b = map.getBounds();
    const base = window.location.origin + TILES;
    const tiles = [];
    for (let x = column(b.getWest()); x <= column(b.getEast()); x++) {
      for (let y = row(b.getNorth()); y <= row(b.getSouth()); y++) {
        tiles.push({ x, y, z, url: base.replace("{z}", z).replace("{x}", x).replace("{y}", y) });
      }
    }
    return tiles;
  }

  // Without a GPU every frame is drawn by software WebGL and read back for the compositor,
  // and the base map tiles are most of its pixels (half of a full frame's cost). So while the
  // view stays as it was built, the base map is the same tiles as images behind the
  // (transparent) canvas, drawn once by the page's compositor; MapLibre gets them as its raster
  // layer only once the map is ready, at opacity 0 (it skips the layer, the tiles still load),
  // and the first move of the view (drag, zoom, keys, resize) hands the base map back to it.
  // The images ask for the tiles as soon as the view is known, not after MapLibre's first
  // frame (which waits for its shaders). Resolves when the images are decoded.
  function stillBasemap(map, el, sharpening) {
    const layer = document.createElement("div");
    layer.className = "eb-map-still";
    layer.setAttribute("aria-hidden", "true");
    layer.style.cssText = "position:absolute;inset:0;overflow:hidden;pointer-events:none";
    const corner = (x, y, z) => {
      const n = 2 ** z;
      const lat = Math.atan(Math.sinh(Math.PI * (1 - 2 * y / n))) * 180 / Math.PI;
      return map.project([x / n * 360 - 180, lat]);
    };
    const decoded = [];
    for (const tile of viewTiles(map)) {
      const nw = corner(tile.x, tile.y, tile.z), se = corner(tile.x + 1, tile.y + 1, tile.z);
      const left = Math.round(nw.x), top = Math.round(nw.y);
      const img = new Image();
      img.alt = "";
      img.src = tile.url;
      img.style.cssText = "position:absolute;max-width:none;left:" + left + "px;top:" + top +
        "px;width:" + (Math.round(se.x) - left) + "px;height:" + (Math.round(se.y) - top) + "px";
      layer.appendChild(img);
      decoded.push(img.decode());
    }
    el.insertBefore(layer, el.firstChild);
    const handBack = () => {
      if (!layer.isConnected) return;
      try {
        rasterBasemap(map, 1);
      } catch (e) {  // the style is not in yet
        map.once("style.load", handBack);
        return;
      }
      layer.remove();
    };
    // setPixelRatio() (sharpen) resizes the map, which fires movestart: the view stays
    const moved = () => {
      if (sharpening()) return;
      map.off("movestart", moved);
      handBack();
    };
    map.on("movestart", moved);
    return Promise.all(decoded).catch(handBack);
  }

  // The base map tiles as MapLibre's raster layer (under the areas), at this opacity.
  function rasterBasemap(map, opacity) {
    if (map.getLayer("countries")) {
      map.setPaintProperty("countries", "raster-opacity", opacity);
      return;
    }
    // MapLibre wants absolute tile URLs (and new URL() would escape the braces)
    map.addSource("basemap", { type: "raster", tiles: [window.location.origin + TILES],
                               tileSize: 512, maxzoom: TILE_MAX_ZOOM,
                               attribution: "Natural Earth" });
    map.addLayer({ id: "countries", type: "raster", source: "basemap",
                   paint: { "raster-fade-duration": 0, "raster-opacity": opacity } }, "areas-fill");
  }

  // MapLibre's CSP build keeps its worker in a file of its own, and the page's head starts
  // that worker at once (partials/map.html: window.ebMapEarly), so its thread and the compile
  // of its code run while MapLibre's main script downloads and is parsed, not after it: here
  // MapLibre is told the worker's URL and given that worker for its pool (prewarm() builds the
  // pool's one worker with `new Worker(url)`, so for that call `Worker` hands it over).
  function startWorker() {
    if (!window.maplibregl || !maplibregl.prewarm) return;
    const early = window.ebMapEarly;
    if (!early || !early.worker) { maplibregl.prewarm(); return; }
    if (maplibregl.setWorkerUrl) maplibregl.setWorkerUrl(early.workerUrl);
    const Native = window.Worker;
    let spare = early.worker;
    window.Worker = function (url, options) {
      if (spare && url === early.workerUrl) { const w = spare; spare = null; return w; }
      return new Native(url, options);
    };
    try { maplibregl.prewarm(); } finally { window.Worker = Native; }
    if (spare) spare.terminate();  // MapLibre made none: not a worker it can use
  }

  window.ebBasemap = { TILES, TILE_MAX_ZOOM, takeEarly, viewTiles, stillBasemap, rasterBasemap,
                       startWorker };
})();
