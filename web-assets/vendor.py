"""Copy the front-end libraries from node_modules into the package's static/vendor folder.

Run by the Makefile after `npm ci`; the result is build output and is not committed. Each library
keeps its licence file beside it (NOTICE lists them). axe-core stays in node_modules: only the
browser tests inject it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULES = HERE / "node_modules"
VENDOR = HERE.parent / "src" / "ecobridge" / "web" / "static" / "vendor"

# library folder -> files to copy, relative to node_modules
FILES = {
    "maplibre-gl": ["maplibre-gl/dist/maplibre-gl.js", "maplibre-gl/dist/maplibre-gl.css",
                    "maplibre-gl/LICENSE.txt"],
    "echarts": ["echarts/dist/echarts.min.js", "echarts/LICENSE", "echarts/NOTICE"],
    "htmx": ["htmx.org/dist/htmx.min.js", "htmx.org/LICENSE"],
}


def main() -> int:
    missing = [f for files in FILES.values() for f in files if not (MODULES / f).is_file()]
    if missing:
        print(f"vendor.py: missing in {MODULES}: {', '.join(missing)}; run npm ci first",
              file=sys.stderr)
        return 1
    for folder, files in FILES.items():
        target = VENDOR / folder
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            shutil.copy2(MODULES / name, target / Path(name).name)
    print(f"vendored {', '.join(FILES)} into {VENDOR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
