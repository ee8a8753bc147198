# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which ONTAP licence packages SMHV's work needs (the seed's §3.1), and the failure that names a missing one.

ONTAP names its packages in lower case in `GET /api/cluster/licensing/licenses` (`snaprestore`, `flexclone`, `iscsi`,
`fcp`, `snapmirror`, `snapvault`); a package is usable when it is listed with state `compliant` (`noncompliant` still
works but is out of its terms: a warning). The rules are pure; `read_licence_packages` is the one request, and
`explained_by_licence` spends it only on the failure path of an operation that needs a licence (a LUN clone, a
SnapRestore): when ONTAP refuses it and the package is missing, the error says so instead of ONTAP's bare refusal.
"""

from __future__ import annotations

import contextlib

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.connection import HAS_NETAPP_ONTAP, fetch

if HAS_NETAPP_ONTAP:
    from netapp_ontap.resources import LicensePackage

TITLES = {"snaprestore": "SnapRestore", "flexclone": "FlexClone", "snapmirror": "SnapMirror", "snapvault": "SnapVault",
          "iscsi": "iSCSI", "fcp": "FCP"}
# What each package's absence blocks, said in SMHV's words.
BLOCKS = {
    "snaprestore": "LUN-level restores (single-file SnapRestore of a LUN), SnapInfo restores and the SnapRestore of a DR failover",
    "flexclone": "LUN clones from snapshots: file-copy restores, mounts of a backup and DR drills",
    "snapmirror": "SnapMirror updates after a backup and DR failover",
    "snapvault": "SnapVault updates after a backup",
    "iscsi": "presenting LUNs to the host over iSCSI",
    "fcp": "presenting LUNs to the host over Fibre Channel",
}
# Windows' Get-InitiatorPort ConnectionType -> the ONTAP package that serves it.
PROTOCOL_PACKAGES = {"iscsi": "iscsi", "fibre channel": "fcp"}
# What registering a scope needs on every cluster it uses (the seed: SnapRestore and the protocol; FlexClone because
# every mount and file-copy restore clones a LUN).
REGISTRATION = ("snaprestore", "flexclone")


def host_protocols(initiator_ports):
    """The licence packages of the protocols the host has initiators for (host facts' initiator_ports), sorted."""
    found = set()
    for port in initiator_ports or []:
        package = PROTOCOL_PACKAGES.get(str(port.get("connection_type", "")).lower())
        if package:
            found.add(package)
    return sorted(found)


def licence_problems(packages, cluster, needed, any_of=()):
    """([missing package...], [warning...]) on `cluster`, given its packages {name: state}: each of `needed` must be
    licensed, and at least one of `any_of` (the host's protocols) when it is not empty."""
    usable = set(name for name, state in packages.items() if state in ("compliant", "noncompliant"))
    missing = [name for name in needed if name not in usable]
    if any_of and not usable.intersection(any_of):
        missing.append(" or ".join(any_of))
    warnings = ["ONTAP cluster %s: the %s licence is out of compliance (state noncompliant); it still works, but renew it."
                % (cluster, TITLES.get(name, name)) for name in needed if packages.get(name) == "noncompliant"]
    return missing, warnings


def require_licences(packages_by_cluster, needed, for_what, any_of=()):
    """Raise LICENSE_MISSING naming every missing licence, its cluster and what it blocks; return the warnings."""
    problems, warnings = [], []
    for cluster in sorted(packages_by_cluster):
        missing, found = licence_problems(packages_by_cluster[cluster], cluster, needed, any_of)
        warnings += found
        problems += [{"cluster": cluster, "licence": name} for name in missing]
    if problems:
        said = "; ".join("%s on ONTAP cluster %s (it blocks %s)" % (_title(p["licence"]), p["cluster"], _blocks(p["licence"]))
                         for p in problems)
        raise SmhvError("LICENSE_MISSING", "%s needs ONTAP licence(s) that are not installed: %s. Add the licence on the cluster "
                        "(system license add, or ONTAP One), then run again." % (for_what, said),
                        {"missing": problems, "needed": list(needed) + ([" or ".join(any_of)] if any_of else [])})
    return warnings


def _title(name):
    return " or ".join(TITLES.get(part, part) for part in name.split(" or "))


def _blocks(name):
    return " / ".join(BLOCKS.get(part, "this operation") for part in name.split(" or "))


def read_licence_packages(endpoint):
    """{package: state} of the cluster behind `endpoint` (a ClusterEndpoint): one GET, licensed packages only."""
    with endpoint.call("read the licence packages"):
        records = fetch(LicensePackage, fields="name,state")
    return dict((str(record["name"]).lower(), record.get("state", "unknown")) for record in records)


@contextlib.contextmanager
def explained_by_licence(endpoint, package, what):
    """Run an ONTAP call that needs `package`; when ONTAP refuses it (STORAGE_ERROR, STORAGE_JOB_FAILED) and the cluster
    lacks the package, raise LICENSE_MISSING naming it, the cluster and `what` was refused, with ONTAP's answer in
    details. Costs a request only after a failure."""
    try:
        yield
    except SmhvError as error:
        if error.code not in ("STORAGE_ERROR", "STORAGE_JOB_FAILED"):
            raise
        try:
            packages = read_licence_packages(endpoint)
        except SmhvError:
            raise error from None
        identity = endpoint.identity_if_known()
        cluster = identity.name if identity is not None else endpoint.label
        if licence_problems(packages, cluster, (package,))[0]:
            raise SmhvError("LICENSE_MISSING", "ONTAP cluster %s refused to %s: it has no %s licence, which %s needs. Add the licence "
                            "on the cluster (system license add, or ONTAP One), then run again." % (
                                endpoint.label, what, _title(package), _blocks(package)),
                            {"missing": [{"cluster": cluster, "licence": package}], "cause": error.as_result()}) from None
        raise
