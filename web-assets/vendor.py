"""Copy the front-end libraries from node_modules into the package's static/vendor folder, and
bundle the part of ECharts the station chart uses.

Run by the Makefile after `npm ci`; the result is build output and is not committed. Each library
keeps its licence file beside it (NOTICE lists them). axe-core stays in node_modules: only the
browser tests inject it. esbuild (a devDependency) builds echarts.custom.min.js from
echarts-entry.js: about half the size of the full echarts.min.js, so the station page parses less
before its chart draws; the bundle holds ECharts, ZRender and tslib, whose licences go beside it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULES = HERE / "node_modules"
VENDOR = HERE.parent / "src" / "ecobridge" / "web" / "static" / "vendor"

# library folder -> files to copy, relative to node_modules (name in the folder: the file's own
# name, or the one given after "=")
FILES = {
    # the pages load the CSP build: its worker is a file of its own (not a blob made from the
    # main bundle), so the page can start it before MapLibre's main script has even arrived;
    # maplibre-gl.js stays for scripts that want the one-file build
    "maplibre-gl": ["maplibre-gl/dist/maplibre-gl-csp.js",
                    "maplibre-gl/dist/maplibre-gl-csp-worker.js",
                    "maplibre-gl/dist/maplibre-gl.js", "maplibre-gl/dist/maplibre-gl.css",
                    "maplibre-gl/LICENSE.txt"],
    "echarts": ["echarts/dist/echarts.min.js", "echarts/LICENSE", "echarts/NOTICE",
                "echarts/licenses/LICENSE-d3=LICENSE-d3", "zrender/LICENSE=LICENSE-zrender",
                "tslib/LICENSE.txt=LICENSE-tslib"],
    "htmx": ["htmx.org/dist/htmx.min.js", "htmx.org/LICENSE"],
}
ECHARTS_ENTRY = HERE / "echarts-entry.js"
ECHARTS_BUNDLE = VENDOR / "echarts" / "echarts.custom.min.js"
# esbuild's JavaScript API: it finds its platform binary also when `npm ci --ignore-scripts`
# skipped esbuild's install script
BUNDLE_JS = """require("esbuild").buildSync({
  entryPoints: [process.argv[1]], outfile: process.argv[2], bundle: true, minify: true,
  format: "iife", globalName: "echarts", target: "es2020", legalComments: "none",
  define: {"process.env.NODE_ENV": '"production"'}, logLevel: "warning"})"""


def build_echarts() -> None:
    """The station chart's ECharts: only the modules echarts-entry.js names, minified, as the
    global `echarts` (what echarts.min.js defines)."""
    subprocess.run(["node", "-e", BUNDLE_JS, str(ECHARTS_ENTRY), str(ECHARTS_BUNDLE)],
                   cwd=HERE, check=True)


def main() -> int:
    sources = [f.split("=")[0] for files in FILES.values() for f in files]
    missing = [f for f in sources if not (MODULES / f).is_file()]
    if not (MODULES / "esbuild" / "package.json").is_file():
        missing.append("esbuild")
    if missing:
        print(f"vendor.py: missing in {MODULES}: {', '.join(missing)}; run npm ci first",
              file=sys.stderr)
        return 1
    for folder, files in FILES.items():
        target = VENDOR / folder
        target.mkdir(parents=True, exist_ok=True)
        for spec in files:
            source, _, name = spec.partition("=")
            shutil.copy2(MODULES / source, target / (name or Path(source).name))
    build_echarts()
    print(f"vendored {', '.join(FILES)} and built {ECHARTS_BUNDLE.name} into {VENDOR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
