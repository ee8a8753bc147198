# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A DR drill (drill.py) on a DR failover cluster: what differs from a drill on a standalone DR host.

    clones     each clone LUN mapped to the igroups holding every node's initiators, every node rescanned, and added to the
               cluster from the owner node as a CSV at C:\\ClusterStorage\\smhv_drill_<scope>_<volume>_<lun>\\ (a mount
               folder is no place for a disk every node shares); the SnapInfo clone, the drill's own catalog, stays a disk of
               the owner node under C:\\SMHV\\Drills\\<scope>\\snapinfo\\
    register   the drill VMs registered on the owner node, then made highly available (cluster_roles: a cluster role each,
               named after the drill VM), so the drill proves what a failover to the cluster does
    end        the drill VMs found on every node (registered from a drill CSV or folder): their roles removed, turned off,
               unregistered on their node; each clone's CSV taken out of the cluster (cluster_disk_remove), the SnapInfo
               clone's disk disconnected; the clones unmapped from every node's igroup and deleted; every node rescanned

The names are the evidence, as on a standalone host: a drill that stopped at any step is ended by end_drill or the next
drill, and a failover refuses to run beside a drill's VMs (VM_EXISTS) wherever they are registered.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.cluster import DRILL_CSV_PREFIX
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.planning import is_drill_path
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.igroups import host_igroup


class ClusterDrillSteps:
    """The DR cluster's side of DrillEngine; each method is called only when the drill runs on a cluster."""

    def _drill_csv_path(self, lun):
        return "%s%s_%s_%s\\" % (DRILL_CSV_PREFIX, self.tag, lun.volume_name, lun.path.rsplit("/", 1)[-1])

    def _drill_roles(self, plan):
        """Every drill VM (registered on the owner node) made highly available, in one call."""
        reply = self.host.call("cluster_vm_role_add", {"ids": [vm["id"] for vm in plan["vms"]]}).result
        clustered = set(item["vm_id"] for item in reply["added"]) | set(reply["present"])
        for vm in plan["vms"]:
            vm["highly_available"] = vm["id"] in clustered

    def _cluster_drill_vms(self):
        """The drill VMs of this scope on every node, each with its "node"."""
        found = []
        for node, outcome in self.session.call_nodes("vm_inventory", {"require_all": False}).items():
            if isinstance(outcome, SmhvError):
                raise outcome
            found.extend(dict(vm, node=node) for vm in outcome.result["vms"] if self._is_this_drill(vm))
        return found

    def _is_this_drill(self, vm):
        path = (vm["config_path"] or vm["configuration_location"] or "").lower()
        return is_drill_path(path) and (path.startswith(self.folder.lower() + "\\") or
                                        path.startswith(("%s%s_" % (DRILL_CSV_PREFIX, self.tag)).lower()))

    def _remove_from_cluster(self, leftovers):
        """End a drill on a cluster: VMs (role removed, turned off, unregistered) on their nodes, the clones' CSVs out of the
        cluster and the SnapInfo clone's disk disconnected, every map of the clones, then every node rescanned."""
        by_node = {}
        for vm in leftovers["vms"]:
            by_node.setdefault(vm["node"], []).append(vm["id"])
        for node, ids in sorted(by_node.items()):
            client = self._node_client(node)
            client.call("cluster_vm_role_remove", {"ids": ids})
            client.call("vm_stop", {"ids": ids, "turn_off": True})
            client.call("vm_remove", {"ids": ids})
        for lun in leftovers["luns"]:
            if not self.host.call("cluster_disk_remove", {"serial": lun.serial}).result["found"]:
                self.host.call("disk_disconnect", {"serial": lun.serial})
        self.host.call("file_delete", {"paths": [self.folder + "\\snapinfo"]})
        self.host.call("file_delete", {"paths": [self.folder]})
        for lun in leftovers["luns"]:
            igroups = {igroup.name: igroup for igroup in self._cluster_igroups(lun) + [host_igroup(self.storage, lun, self.facts)]}
            for igroup in igroups.values():
                self.storage.san.unmap_lun(lun, igroup)

    def _rescan_nodes(self):
        for outcome in self.session.call_nodes("disk_rescan", {}).values():
            if isinstance(outcome, SmhvError):
                raise outcome
