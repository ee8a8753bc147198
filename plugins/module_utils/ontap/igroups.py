# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The igroup through which a LUN (a restore's or a mount's clone) is presented to one Hyper-V host.

One igroup per host, `smhv_<computer name>`, whatever the scope or the name the host was reached by (a cluster's name
reaches its owner node): a cluster node is in a single igroup of ours whether a restore or a mount maps the LUN (an
existing igroup that already holds all the host's initiators is used as it is; see SanClient.ensure_igroup).
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError


def igroup_name(host_name):
    return "smhv_%s" % host_name.lower()


def host_igroup(storage, lun, facts):
    """The igroup of `lun`'s SVM holding the initiators of the host whose host_facts are `facts`, made if need be."""
    host_name = facts["computer_name"].lower()
    initiators = [port["node_address"] for port in facts["initiator_ports"]]
    if not initiators:
        raise SmhvError("HOST_NOT_READY", "Host %s reports no iSCSI or FC initiator; a LUN clone cannot be presented to it."
                        % host_name, {"host": host_name})
    return storage.san.ensure_igroup(lun.cluster, lun.svm, igroup_name(host_name), initiators)
