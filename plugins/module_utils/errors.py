# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One error type for the whole collection, with stable codes, and the one place it becomes fail_json.

Engines raise SmhvError; modules run through runner.run_module(), which hands every failure to
`fail_from_error`, so no traceback ever reaches a user and every failure carries `error_code`, the
message (what, where, what to do) and structured `details`. The bottom layer: it imports nothing from
the collection.
"""

from __future__ import annotations

import traceback

# Stable codes. Playbooks may branch on them (`failed_when: result.error_code == 'SCOPE_BUSY'`), so a
# code is never renamed or reused; new failures get new codes.
ERROR_CODES = {
    "INVALID_ARGUMENT": "An option value is wrong or options contradict each other.",
    "HOST_UNREACHABLE": "The Windows host could not be reached over WinRM.",
    "HOST_TLS_ERROR": "The TLS handshake with the Windows host failed or its certificate is not trusted.",
    "HOST_AUTH_FAILED": "The Windows host refused the credentials.",
    "HOST_TIMEOUT": "The Windows host did not answer in time.",
    "HOST_PROTOCOL_ERROR": "The Windows host answered something the agent protocol does not allow.",
    "AGENT_ERROR": "The agent on the Windows host reported an error it has no specific code for.",
    "STORAGE_UNREACHABLE": "The ONTAP cluster could not be reached.",
    "STORAGE_TLS_ERROR": "The TLS handshake with the ONTAP cluster failed or its certificate is not trusted.",
    "STORAGE_AUTH_FAILED": "The ONTAP cluster refused the credentials.",
    "STORAGE_ERROR": "ONTAP returned an error.",
    "STORAGE_JOB_FAILED": "An ONTAP job failed.",
    "STORAGE_JOB_TIMEOUT": "An ONTAP job did not finish in time.",
    "STORAGE_OBJECT_NOT_FOUND": "An ONTAP object (volume, snapshot, LUN, relationship...) does not exist.",
    "SNAPSHOT_BUSY": "An ONTAP snapshot is in use (clone, SnapMirror base, expiry time) and cannot be deleted now.",
    "SNAPSHOT_EXISTS": "An ONTAP snapshot with that name already exists in the volume.",
    "LUN_NOT_FOUND": "No configured ONTAP cluster has a LUN with that serial number.",
    "NOT_ON_ONTAP": "A path is not on an ONTAP LUN.",
    "PATH_NOT_ALLOWED": "A path is on storage its role does not allow (a report path on a CSV, a cluster's SnapInfo on a local disk).",
    "PATH_NOT_FOUND": "A path's drive, volume or share does not exist on the host.",
    "VOLUME_READ_ONLY": "An ONTAP volume cannot be written (a SnapMirror destination): break or fail over the relationship first.",
    "SCOPE_NOT_REGISTERED": "The host or cluster has not been registered with smhv_host.",
    "SCOPE_BUSY": "Another operation holds the scope's lease.",
    "LEASE_LOST": "The operation's lease (its scope's or its VM's) expired and another operation took it over, or was released.",
    "LEASE_HELD": "A lease asked to be broken is still held by a live operation (it renewed it recently, or its process runs).",
    "RECOVERY_UNKNOWN": "An interrupted operation's journal names an operation this collection version cannot recover.",
    "CATALOG_CORRUPT": "A SnapInfo catalog record cannot be read.",
    "CATALOG_VERSION_UNSUPPORTED": "The SnapInfo catalog was written by a newer version of the collection.",
    "CATALOG_CONFLICT": "A SnapInfo catalog record kept changing under concurrent writers.",
    "DATASET_EXISTS": "A dataset with that name already exists.",
    "DATASET_NOT_FOUND": "No dataset has that name (the message and error_details.datasets list the datasets there are).",
    "POLICY_EXISTS": "A policy with that name already exists in the dataset.",
    "BACKUP_EXISTS": "A backup with that name already exists in the dataset.",
    "SNAPSHOT_BUDGET_EXCEEDED": "The retention asked for would push a volume past its snapshot limit.",
    "VM_AMBIGUOUS": "Several VMs of the scope have that name; name the VM by its GUID.",
    "DATASET_MIXES_CLUSTERED": "A dataset would hold dedicated and clustered VMs of one failover cluster.",
    "DATASET_MIXES_SMB_SAN": "A dataset would hold VMs on SMB shares and VMs on SAN LUNs.",
    "MBR_LUN_ON_CSV": "A VM is on a cluster shared volume whose LUN is MBR-partitioned.",
    "RETENTION_TAG_IN_USE": "Another policy of the dataset already uses that retention tag.",
    "WRITE_CONFLICT": "A conditional write of a SnapInfo file found other content than expected.",
    "WRITE_LOCKED": "A SnapInfo file stayed locked by another writer.",
    "VM_NOT_FOUND": "A VM (by name or id) is not registered on the host or on any node of the cluster.",
    "DATASET_INVALID": "A dataset breaks one of SMHV's rules (error_details.problems lists every problem).",
    "VM_STATE_NOT_ALLOWED": "A VM's state does not allow the backup (saved or off without allow_saved_state, or none left to back up).",
    "CHECKPOINT_FAILED": "Hyper-V could not create or remove a production checkpoint.",
    "VSS_PROVIDER_MISSING": "The Data ONTAP VSS hardware provider (SnapDrive) is not installed on the host.",
    "VSS_BACKUP_FAILED": "The VSS backup through the Data ONTAP provider did not produce its snapshots.",
    "SCRIPT_FAILED": "A pre- or post-script ended with a non-zero exit code.",
    "SCRIPT_TIMEOUT": "A pre- or post-script did not finish in time.",
    "RESTORE_NEEDS_FORCE": "SMHV's restore warnings apply (VM not running, disks or paths changed); the module's force=true "
                           "(restore_vm.yml's -e smhv_force=true) restores anyway.",
    "BACKUP_NOT_FOUND": "The catalog has no good backup of that name, or none holding the VM.",
    "SNAPSHOT_NOT_FOUND": "A snapshot a backup record names is gone from its volume.",
    "VM_EXISTS": "The VM is registered on the target host already (an alternate-host restore needs it absent).",
    "FAILBACK_NOT_READY": "The sites are not where a failback or reprotect starts from (nothing failed over, or not failed back yet).",
    "DISK_NOT_FOUND": "A LUN mapped to the host did not appear as a disk after a rescan.",
    "DRIVE_LETTER_IN_USE": "A drive letter asked for belongs to another volume of the host, or no drive letter is free.",
    "HOST_NOT_READY": "The host reports no iSCSI or FC initiator for a LUN clone to be presented to.",
    "RESTORE_UNSUPPORTED": "A restore the collection cannot do safely (a file's LUN is not reachable from the target host).",
    "LICENSE_MISSING": "An ONTAP cluster lacks a licence the operation needs (SnapRestore, FlexClone, SnapMirror, SnapVault, iSCSI "
                       "or FCP); error_details.missing names each with its cluster.",
    "CONTROLLER_VM": "The VM to stop, remove or restore runs the Ansible controller (or the AWX execution node) itself; run the "
                     "task from a machine outside that VM.",
    "HOST_NOT_SUPPORTED": "The Windows host's version or configuration is not supported for the install asked for.",
    # Codes the agent answers with that reach users unchanged (agent.AGENT_ERROR_CODES).
    "BAD_REQUEST": "The agent refused a request as malformed (a collection bug, or controller and agent versions differ).",
    "UNKNOWN_OP": "The agent on the host has no such op (controller and agent versions differ).",
    "FILE_NOT_FOUND": "A file to read (a record, an installer, a script) does not exist or is not readable by the account.",
    "DIRECTORY_NOT_EMPTY": "A directory to delete still has content.",
    "PROCESS_TIMEOUT": "An installer or other program the agent started did not finish in time.",
    "REBOOT_FAILED": "The host refused to schedule a restart.",
    "HOTFIX_FILE_NOT_FOUND": "No .msu file for the KB in the hotfix source folder.",
    "HOTFIX_INSTALL_FAILED": "wusa.exe failed to install an update.",
    "INSTALLER_FAILED": "An installer (setup.exe, msiexec) ended with a failure exit code.",
    "FEATURE_INSTALL_FAILED": "Install-WindowsFeature failed.",
    "SERVICE_NOT_FOUND": "A service to configure is not installed on the host.",
    "NOTIFICATION_FAILED": "A report (e-mail, webhook or EMS event) could not be delivered; error_details.notifications says which were.",
    "MISSING_DEPENDENCY": "A Python library the module needs is not installed on the controller.",
    "INTERNAL_ERROR": "A bug in the collection; please report it with the task's msg and its traceback (-vvv).",
}


class SmhvError(Exception):
    """A failure a user can act on: `code` (stable, from ERROR_CODES), message, structured details."""

    def __init__(self, code, message, details=None):
        if code not in ERROR_CODES and not code.isupper():
            raise ValueError("error codes are upper-case constants, got %r" % (code,))
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = dict(details or {})

    def __str__(self):
        return "%s: %s" % (self.code, self.message)

    def as_result(self):
        return {"msg": self.message, "error_code": self.code, "error_details": self.details}


def fail_from_error(module, error):
    """The single fail path: SmhvError (or anything else) becomes fail_json with a stable code."""
    if isinstance(error, SmhvError):
        module.fail_json(**error.as_result())
    message = "Unexpected %s: %s. This is a bug in netapp_hyperv.smhv; please report it." % (type(error).__name__, error)
    module.fail_json(msg=message, error_code="INTERNAL_ERROR", error_details={"exception": type(error).__name__}, exception=traceback.format_exc())
