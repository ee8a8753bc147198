"""`make bench`: run every benchmark in this folder, one after the other, and say which failed.

    .venv/bin/python benchmarks/run.py [NAME...]     (NAME: a file name without .py, e.g. backup_scale)

Each benchmark is a script that prints its own figures; this runner only sets PYTHONPATH (the
collection link and tests/, for the lab fixture) and reports the exit codes.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def main(argv):
    wanted = set(argv[1:])
    # A benchmark is a script; a module the benchmarks import (client_counters.py) is not run on its own.
    scripts = [path for path in sorted(HERE.glob("*.py")) if path.name != "run.py" and (not wanted or path.stem in wanted)
               and '__name__ == "__main__"' in path.read_text()]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / ".cache" / "collections"), str(REPO / "tests"),
                                                       os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    failed = []
    for script in scripts:
        print("== %s" % script.stem, flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(script)], cwd=REPO, env=env)
        print("== %s: %s in %.0f s" % (script.stem, "ok" if code == 0 else "FAILED (exit %d)" % code, time.monotonic() - started), flush=True)
        if code:
            failed.append(script.stem)
    if failed:
        print("make bench: failed: %s" % ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
