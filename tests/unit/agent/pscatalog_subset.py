"""Refresh tests/data/pscatalog/cmdlets.json: the catalog entries of the cmdlets the agent calls.

The shared catalog (1.8 MB, ~1200 cmdlets) is not committed; the subset holds its entries verbatim
for the cmdlets the agent (agent/*.ps1) uses, and test_pscatalog_subset checks that it stays
faithful to the full catalog whenever that is available. After adding a cmdlet to the agent:

    .venv/bin/python tests/unit/agent/pscatalog_subset.py [FULL_CATALOG]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, as pytest.ini's pythonpath
from unit.agent import pscheck  # noqa: E402


def build_subset(full: dict) -> dict:
    agent = pscheck.build_from_sources()
    catalog = pscheck.Catalog(full)
    used = set()
    for script in (agent.AGENT_SCRIPT, agent.BOOTSTRAP_SCRIPT):
        used |= pscheck.catalog_cmdlets_used(script, catalog)
    return {
        "source": "shared/pscatalog/cmdlets.json (entries copied verbatim; see tests/unit/agent/pscatalog_subset.py)",
        "common_parameters": full["common_parameters"],
        "cmdlets": {name: full["cmdlets"][name] for name in sorted(used)},
    }


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else pscheck.FULL_CATALOG
    subset = build_subset(json.loads(source.read_text(encoding="utf-8")))
    pscheck.CATALOG_SUBSET.parent.mkdir(parents=True, exist_ok=True)
    pscheck.CATALOG_SUBSET.write_text(json.dumps(subset, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{pscheck.CATALOG_SUBSET}: {len(subset['cmdlets'])} cmdlets")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
