# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A failover (failover.py) to a DR failover cluster: what differs from a standalone DR host.

    nodes      every node answers (its facts: initiators, the iSCSI service), or the failover stops before any change
    snaprestore  a disk the cluster holds as a CSV or cluster disk leaves the cluster (cluster_disk_remove) before its LUN is
               restored: a failback's arrival at a primary cluster finds the CSVs the VMs left; connect adds them back
    connect    every LUN mapped to the igroup(s) holding every node's initiators (one per node, shared ones once; the
               maps side by side), every node rescanned once for all of them, then from the owner node (the core cluster
               group's, which the scope session talks to) each disk added to the cluster: a CSV at its access path when
               that is C:\\ClusterStorage\\<folder>\\ (the source CSV's, or path_map's), else a cluster disk with its
               drive letter on the owner (the SnapInfo LUN at S:\\)
    restore    as on a standalone host (changes.py), on the owner node: the VMs registered from their configuration on the
               LUNs in one call (vm_import_batch); a CSV holds many VMs, which the restore engine would copy file by file
               from a LUN clone per VM, so here every VM is registered so, even on a LUN this failover did not SnapRestore
    cluster_roles  every VM not highly available yet gets its cluster role (Add-ClusterVirtualMachineRole), in one call
    start      on the node each VM is registered on

Each of these is idempotent against what the cluster shows (a disk in the cluster at its path, a VM registered on any
node, a VM already clustered), and journaled like the standalone steps, so a re-run after a fault anywhere adds no second
disk, VM or role.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.parallel import in_parallel
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.igroups import host_igroup
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.paths import with_separator

CSV_ROOT = "C:\\ClusterStorage\\"
DRILL_CSV_PREFIX = CSV_ROOT + "smhv_drill_"  # a drill's clones on a DR cluster are CSVs named so (drill_cluster.py)


def is_csv_path(path):
    """'C:\\ClusterStorage\\Volume3\\' is where a CSV is; a drive letter or any other folder is not."""
    inner = with_separator(path or "")[len(CSV_ROOT):].rstrip("\\")
    return with_separator(path or "").lower().startswith(CSV_ROOT.lower()) and bool(inner) and "\\" not in inner


def is_drive_letter(path):
    return len((path or "").rstrip("\\")) == 2 and path[1] == ":"


class ClusterSteps:
    """The DR cluster's side of FailoverEngine; every method is a no-op or the standalone behaviour on a standalone host."""

    @property
    def on_cluster(self):
        return self.session.kind == "cluster"

    def _node_facts(self):
        """{node name: host_facts} of every node, asked once; a node that does not answer stops the failover."""
        if getattr(self, "nodes_facts", None) is None:
            facts = {self.session.owner.name: self.session.facts}
            failed = []
            for name, outcome in self.session.call_nodes("host_facts").items():
                if isinstance(outcome, SmhvError):
                    failed.append("%s (%s)" % (name, outcome.message))
                elif name != self.session.owner.name:
                    facts[name] = outcome.result
            if failed:
                raise SmhvError("HOST_UNREACHABLE", "Node(s) %s of DR cluster %s did not answer: a failover to a cluster needs every node "
                                "(each sees the LUNs; the VMs can run on any)." % (", ".join(failed), self.session.name),
                                {"cluster": self.session.name, "nodes": failed})
            self.nodes_facts = facts
        return self.nodes_facts

    def _node_client(self, name):
        if name.lower() == self.session.owner.name.lower():
            return self.session.owner
        return self.session.other_nodes()[name]

    def _cluster_igroups(self, lun):
        """The igroups of `lun`'s SVM that present it to every node: per node the one holding its initiators (an igroup
        holding them all, such as a cluster's, serves every node), made `smhv_<node>` when none does."""
        cache = self.__dict__.setdefault("igroup_cache", {})
        key = (lun.cluster, lun.svm)
        if key not in cache:
            groups = {}
            for facts in self._node_facts().values():
                igroup = host_igroup(self.storage, lun, facts)
                groups.setdefault(igroup.name, igroup)
            cache[key] = list(groups.values())
        return cache[key]

    def _present_to_cluster(self, lun, access_path):
        """Map `lun` to every node and add it to the cluster at `access_path` (a CSV or a drive letter)."""
        self._present_many_to_cluster([(lun, access_path)])

    def _present_many_to_cluster(self, placements):
        """Map every LUN of `placements` ((LunRef, access path) pairs) to every node, the maps side by side, rescan each node
        once, then add each disk to the cluster: a node's rescan is its slowest call, so it is paid once per connect, not
        once per LUN."""
        if not placements:
            return
        maps = [(lun, igroup) for lun, _path in placements for igroup in self._cluster_igroups(lun)]
        in_parallel(lambda pair: self.storage.san.map_lun(*pair), maps)
        for outcome in self.session.call_nodes("disk_rescan", {}).values():
            if isinstance(outcome, SmhvError):
                raise outcome
        for lun, access_path in placements:
            reply = self.host.call("cluster_disk_add", {"serial": lun.serial, "access_path": access_path, "csv": is_csv_path(access_path)})
            self.disks[lun.serial] = reply.result["disk"]

    def _take_offline(self, serial):
        """The host's disk of `serial` offline before its LUN is SnapRestored. On a cluster a CSV or cluster disk (a failback
        to a cluster finds the primary's CSVs where the VMs left them) is taken out of the cluster from the owner node
        (cluster_disk_remove: offline on every node; the connect phase adds it back at its path); a disk the cluster does
        not hold, and any disk of a standalone host, is disconnected."""
        if self.on_cluster and self.host.call("cluster_disk_remove", {"serial": serial}).result["found"]:
            return
        self.host.call("disk_disconnect", {"serial": serial})

    def _ensure_cluster_initiators(self):
        """Start the Microsoft iSCSI Initiator service on every node where it is stopped."""
        stopped = [name for name, facts in self._node_facts().items() if any(
            s["name"].lower() == "msiscsi" and s["status"] != "Running" for s in facts["services"])]
        for name in stopped:
            self._node_client(name).call("prerequisites_ensure", {"features": [], "services": ["MSiSCSI"]})
        if stopped:
            self.nodes_facts = None

    # -- plan -----------------------------------------------------------------------------------------
    def _check_cluster_paths(self, luns):
        """On a cluster every LUN goes to a CSV path or a drive letter, and a CSV path no other disk of the cluster has."""
        if not self.on_cluster:
            return
        taken = {with_separator(csv["path"]).lower(): csv["name"] for csv in (self.session.cluster or {}).get("csvs") or []}
        if not self.mode_refuses_drills:  # a drill ends the earlier drill's CSVs before it adds its own at the same paths
            taken = {path: name for path, name in taken.items() if not path.startswith(DRILL_CSV_PREFIX.lower())}
        for lun in luns:
            path = lun["access_path"]
            if not (is_csv_path(path) or is_drive_letter(path)):
                raise SmhvError("INVALID_ARGUMENT", "LUN %s would go to %s on DR cluster %s: on a cluster a LUN becomes a CSV at "
                                "C:\\ClusterStorage\\<folder>\\ or a cluster disk at a drive letter; map its source access path %s "
                                "to one in path_map." % (lun["lun"], path, self.session.name, lun["source_access_path"]), {"lun": lun["lun"]})
            if path.lower() in taken and not lun["connected"]:
                raise SmhvError("INVALID_ARGUMENT", "LUN %s would become a CSV at %s, which is cluster shared volume %s of %s already: "
                                "map %s to a free C:\\ClusterStorage\\<folder> in path_map." % (
                                    lun["lun"], path, taken[path.lower()], self.session.name, lun["source_access_path"]),
                                {"lun": lun["lun"], "access_path": path})

    def _cluster_plan(self, luns):
        """plan.cluster: the DR cluster, its owner node, its nodes, and the CSV paths the LUNs go to."""
        if not self.on_cluster:
            return None
        return {"name": self.session.name, "owner_node": self.session.owner_node, "nodes": list(self.session.node_names),
                "csvs": sorted(lun["access_path"] for lun in luns if lun["csv"])}

    # -- cluster_roles, start -----------------------------------------------------------------
    def _make_highly_available(self, plan):
        pending = [vm for vm in plan["vms"] if not self.clustered.get(vm["id"])]
        if not pending:
            return
        self.journal.intend("cluster_roles", vms=[vm["id"] for vm in pending])
        by_node = {}
        for vm in pending:
            by_node.setdefault(self.vm_nodes.get(vm["id"], self.host.name), []).append(vm["id"])
        for node, ids in sorted(by_node.items()):
            reply = self._node_client(node).call("cluster_vm_role_add", {"ids": ids}).result
            for added in reply["added"]:
                self.clustered[added["vm_id"]] = True
            for vm_id in reply["present"]:
                self.clustered[vm_id] = True
        for vm in plan["vms"]:
            vm["highly_available"] = bool(self.clustered.get(vm["id"]))
        self.journal.done("cluster_roles")

    def _start_on(self, ids):
        """vm_start of `ids` on the node each is registered on: the replies' VMs."""
        by_node = {}
        for vm_id in ids:
            by_node.setdefault(self.vm_nodes.get(vm_id, self.host.name), []).append(vm_id)
        started = []
        for node, node_ids in sorted(by_node.items()):
            started.extend(self._node_client(node).call("vm_start", {"ids": node_ids}).result["vms"])
        return started
