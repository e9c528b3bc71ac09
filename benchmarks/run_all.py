"""Run every benchmark script in this folder and pass their JSON lines through.

Each `benchmarks/*.py` (but this one) runs in its own process, one after the other, so one's
memory and threads do not disturb the next. Lines that are JSON objects are printed as they
come; anything else a script prints goes to stderr. A script that fails is reported as a JSON
line of its own and the others still run; the exit code is non-zero if any failed.

    python benchmarks/run_all.py [name ...]     # e.g. read_api ingest_csv; default all
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts(names: list[str]) -> list[Path]:
    found = sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name)
    if names:
        found = [p for p in found if p.stem in names]
        missing = set(names) - {p.stem for p in found}
        if missing:
            sys.exit(f"no benchmark named {', '.join(sorted(missing))} in {HERE}")
    return found


def run(script: Path) -> int:
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            cwd=HERE.parent)
    assert proc.stdout is not None
    for line in proc.stdout:
        text = line.strip()
        try:
            is_figure = isinstance(json.loads(text), dict)
        except ValueError:
            is_figure = False
        print(text, file=sys.stdout if is_figure else sys.stderr, flush=True)
    code = proc.wait()
    if code != 0:
        print(json.dumps({"benchmark": script.stem, "figure": "failed", "exit_code": code,
                          "seconds": round(time.perf_counter() - started, 1)}), flush=True)
    return code


def main() -> None:
    failures = [s.stem for s in scripts(sys.argv[1:]) if run(s) != 0]
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
