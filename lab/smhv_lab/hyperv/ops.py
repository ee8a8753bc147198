"""The lab's implementation of each agent op: op name -> function(ctx, args) -> (result, changed).

Keys are exactly agent.OPS (a test checks); each function returns the result shape that
agent.RESULT_SCHEMAS documents and the PowerShell builds.
"""
from __future__ import annotations

from .backup_ops import OPS as BACKUP_OPS
from .cluster_ops import OPS as CLUSTER_OPS
from .file_ops import file_delete, file_list, file_read, file_write, path_info
from .fleet_ops import OPS as FLEET_OPS
from .host_ops import disk_rescan, host_facts
from .registry_ops import registry_write
from .restore_ops import OPS as RESTORE_OPS
from .vm_ops import vm_inventory

OPS = {
    "host_facts": host_facts,
    "vm_inventory": vm_inventory,
    "path_info": path_info,
    "file_read": file_read,
    "file_write": file_write,
    "file_list": file_list,
    "file_delete": file_delete,
    "disk_rescan": disk_rescan,
    **FLEET_OPS,
    "registry_write": registry_write,
    **BACKUP_OPS,
    **RESTORE_OPS,
    **CLUSTER_OPS,
}
