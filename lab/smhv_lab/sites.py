"""A whole site of the lab down, and back (POST /site): what an unplanned failover is tested against.

Down, every request to the site's ONTAP clusters, to its Windows hosts' WinRM listeners and to their agents is dropped
(the connection closed without an answer: `how: drop`) or held for `seconds` first (`how: hang`: a client with a shorter
timeout gives up, as against a site whose network black-holes). Up, those rules stop firing. The rules are ordinary fault
rules (GET /faults lists them, with how many requests each saw: a failover that asked the site nothing leaves them at 0),
and DELETE /faults clears them too.
"""
from __future__ import annotations

from typing import Any

NEVER = 10 ** 12  # a rule's `nth` that no count reaches: the rule stays listed, with its counts, and never fires again


def _names(names: list[str]) -> str:
    return "|".join(sorted(names))


def site_down(lab, site: str, how: str = "drop", seconds: float = 30.0) -> dict[str, Any]:
    clusters = [name for name, cluster in lab.world.clusters.items() if cluster.site in (site, f"site-{site}")]
    hosts = [name for name, host in lab.world.hosts.items() if host.site == site]
    if not clusters and not hosts:
        raise ValueError(f"the lab has no site {site!r}")
    if how not in ("drop", "hang"):
        raise ValueError("how must be drop or hang")
    site_up(lab, site)
    rules = []
    params = {"seconds": float(seconds)}
    if clusters:
        kind = "drop" if how == "drop" else "delay"
        rules.append(lab.faults.add("ontap", kind, {"cluster": _names(clusters)}, times=0, params=params))
    if hosts:
        rules.append(lab.faults.add("winrm", "drop" if how == "drop" else "delay", {"host": _names(hosts)}, times=0, params=params))
        rules.append(lab.faults.add("agent", "drop" if how == "drop" else "timeout", {"host": _names(hosts)}, times=0, params=params))
    for rule in rules:
        rule.params["site"] = site
    return {"site": site, "state": "down", "how": how, "clusters": sorted(clusters), "hosts": sorted(hosts),
            "rules": [rule.id for rule in rules]}


def site_up(lab, site: str) -> dict[str, Any]:
    stopped = []
    for rule in lab.faults.rules():
        if rule["params"].get("site") == site and rule["nth"] != NEVER:
            stopped.append(rule["id"])
    for rule in getattr(lab.faults, "_rules", []):  # FaultRegistry has no removal: the rule is made unreachable instead
        if rule.id in stopped:
            rule.nth = NEVER
    return {"site": site, "state": "up", "stopped_rules": stopped}


def site_request(lab, body: dict[str, Any]) -> dict[str, Any]:
    state = body.get("state")
    if state == "down":
        return site_down(lab, str(body["site"]), str(body.get("how", "drop")), float(body.get("seconds", 30.0)))
    if state == "up":
        return site_up(lab, str(body["site"]))
    raise ValueError("state must be down or up")
