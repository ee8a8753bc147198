# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SnapMirror and SnapVault operations of StorageClient (`client.snapmirror`).

A relationship lives on its destination cluster, so every operation goes there; none needs the
source cluster, which is what lets a failover run with the primary site down. State changes are
PATCHes of the relationship's `state` (paused = quiesce, broken_off = break, snapmirrored = resync),
which only start the change: the methods here wait for it within the cluster's `timeout`.
"""

from __future__ import annotations

import time

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.connection import (
    HAS_NETAPP_ONTAP, MIN_POLL_INTERVAL, dig, fetch, parse_time)
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.job_waits import poll_delays
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import (
    MirrorRelationship, TransferResult)

if HAS_NETAPP_ONTAP:
    from netapp_ontap.resources import SnapmirrorPolicy, SnapmirrorRelationship, SnapmirrorTransfer

RELATIONSHIP_FIELDS = ("uuid,state,healthy,unhealthy_reason,source.path,source.cluster.name,destination.path,"
                       "policy.name,policy.uuid,policy.type,transfer.uuid,transfer.state,exported_snapshot,lag_time")
TRANSFER_FIELDS = "uuid,state,bytes_transferred,snapshot,end_time"
TRANSFER_RUNNING_STATES = ("queued", "transferring")


def _relationship(cluster, record, vaults=()):
    """`vaults`: the uuids of vault policies. ONTAP's REST API reports a vault policy (the CLI's type vault, e.g.
    XDPDefault) as type "async" with create_snapshot_on_source false; policy_type says "vault" for those."""
    vault = dig(record, "policy.uuid") in vaults
    return MirrorRelationship(cluster=cluster, uuid=record["uuid"], source_path=dig(record, "source.path"),
                              destination_path=dig(record, "destination.path"),
                              source_cluster=dig(record, "source.cluster.name", cluster), state=record.get("state", ""),
                              healthy=bool(record.get("healthy", True)), policy_name=dig(record, "policy.name", ""),
                              policy_type="vault" if vault else dig(record, "policy.type", ""), transfer_state=dig(record, "transfer.state"),
                              transfer_uuid=dig(record, "transfer.uuid"),
                              exported_snapshot=record.get("exported_snapshot"), lag_time=record.get("lag_time"),
                              unhealthy_reasons=tuple(reason.get("message", "")
                                                      for reason in record.get("unhealthy_reason") or []))


def _vault_policies(endpoint, records):
    """The uuids of the async policies of these relationships that are vaults: one query, none without such a policy."""
    uuids = sorted(set(dig(record, "policy.uuid") for record in records if dig(record, "policy.type") == "async" and dig(record, "policy.uuid")))
    if not uuids:
        return set()
    with endpoint.call("read SnapMirror policies"):
        policies = fetch(SnapmirrorPolicy, uuid="|".join(uuids), fields="uuid,create_snapshot_on_source")
    return set(policy["uuid"] for policy in policies if policy.get("create_snapshot_on_source") is False)


class SnapMirrorOperations:
    """Find relationships on any configured cluster; update, quiesce, break, resync, reverse them."""

    def __init__(self, clusters):
        self._clusters = clusters

    def find(self, source_path=None, destination_path=None):
        """Relationships by source and/or destination path ("svm:volume"; a list matches any of
        them), from every cluster that answers: one query per cluster. Clusters that cannot be
        reached are skipped, unless no cluster answered at all."""
        query = {"fields": RELATIONSHIP_FIELDS}
        for key, value in (("source.path", source_path), ("destination.path", destination_path)):
            if value:
                query[key] = value if isinstance(value, str) else "|".join(value)
        if len(query) == 1:
            raise SmhvError("INVALID_ARGUMENT", "Finding SnapMirror relationships needs a source or destination path.")
        reachable, errors = self._clusters.reachable()
        if not reachable:
            raise errors[0]
        found = []
        for endpoint, identity in reachable:
            with endpoint.call("list SnapMirror relationships"):
                records = fetch(SnapmirrorRelationship, **query)
            vaults = _vault_policies(endpoint, records)
            found.extend(_relationship(identity.name, record, vaults) for record in records)
        return found

    def get(self, relationship):
        """The relationship as its destination cluster reports it now."""
        endpoint = self._clusters.endpoint(relationship.cluster)
        with endpoint.call("read SnapMirror relationship %s" % _describe(relationship)):
            records = fetch(SnapmirrorRelationship, uuid=relationship.uuid, fields=RELATIONSHIP_FIELDS)
        if not records:
            raise SmhvError("STORAGE_OBJECT_NOT_FOUND", "ONTAP cluster %s no longer has SnapMirror relationship %s (%s)."
                            % (endpoint.label, _describe(relationship), relationship.uuid),
                            {"cluster": relationship.cluster, "relationship_uuid": relationship.uuid})
        return _relationship(relationship.cluster, records[0])

    def update(self, relationship, source_snapshot=None, wait=True):
        """Transfer new data to the destination. For a SnapVault (vault policy) relationship, pass the
        backup's snapshot as `source_snapshot`: it carries the label the policy keeps. When the
        destination already holds `source_snapshot` as its newest common snapshot nothing is sent
        and the result says "unchanged"."""
        if source_snapshot and relationship.exported_snapshot == source_snapshot:
            return TransferResult(relationship_uuid=relationship.uuid, state="unchanged", snapshot=source_snapshot)
        endpoint = self._clusters.endpoint(relationship.cluster)
        transfer = SnapmirrorTransfer(relationship.uuid)
        if source_snapshot:
            transfer.source_snapshot = source_snapshot
        with endpoint.call("start a SnapMirror update of %s" % _describe(relationship)):
            transfer.post()
        if not wait:
            return TransferResult(relationship_uuid=relationship.uuid, state="transferring",
                                  transfer_uuid=transfer.uuid, snapshot=source_snapshot)
        return self.wait_for_transfer(relationship, transfer.uuid)

    def wait_for_transfer(self, relationship, transfer_uuid):
        """Poll a transfer until it ends. A failed or aborted transfer raises STORAGE_JOB_FAILED, one
        still running after the cluster's timeout STORAGE_JOB_TIMEOUT; both name the transfer."""
        endpoint = self._clusters.endpoint(relationship.cluster)
        action = "wait for SnapMirror transfer %s of %s" % (transfer_uuid, _describe(relationship))
        details = {"cluster": relationship.cluster, "relationship_uuid": relationship.uuid,
                   "transfer_uuid": transfer_uuid}

        def finished():
            with endpoint.call(action):
                records = fetch(SnapmirrorTransfer, relationship.uuid, uuid=transfer_uuid, fields=TRANSFER_FIELDS)
            if not records:
                raise SmhvError("STORAGE_OBJECT_NOT_FOUND", "Could not %s on ONTAP cluster %s: the transfer is unknown "
                                "(ONTAP lists transfers for 24 hours)." % (action, endpoint.label), details)
            return records[0] if records[0].get("state") not in TRANSFER_RUNNING_STATES else None

        transfer = self._wait(endpoint, action, finished, details)
        if transfer.get("state") != "success":
            reasons = "; ".join(self.get(relationship).unhealthy_reasons) or "no reason given"
            raise SmhvError("STORAGE_JOB_FAILED", "SnapMirror transfer %s of %s ended %s: %s." % (
                transfer_uuid, _describe(relationship), transfer.get("state"), reasons),
                dict(details, state=transfer.get("state")))
        return TransferResult(relationship_uuid=relationship.uuid, state="success", transfer_uuid=transfer_uuid,
                              snapshot=transfer.get("snapshot"), bytes_transferred=int(transfer.get("bytes_transferred", 0)),
                              end_time=parse_time(transfer.get("end_time")))

    def quiesce(self, relationship):
        """Stop scheduled transfers and wait until a running one has ended (state paused)."""
        return self._change_state(relationship, "paused", "quiesce")

    def break_off(self, relationship, force=False):
        """Make the destination writable (state broken_off). Quiesce first; `force` breaks even
        while a transfer runs, which aborts it."""
        return self._change_state(relationship, "broken_off", "break", force="true" if force else None)

    def resync(self, relationship):
        """broken_off -> snapmirrored in the same direction: the destination loses what was written
        to it since the newest common snapshot."""
        return self._change_state(relationship, "snapmirrored", "resync")

    def reverse_resync(self, relationship):
        """Swap source and destination of a broken-off relationship and resync (failback): the old
        source becomes the destination, so the relationship then lives on the old source's cluster."""
        endpoint = self._clusters.endpoint(relationship.cluster)
        record = SnapmirrorRelationship(uuid=relationship.uuid)
        record.source = {"path": relationship.destination_path}
        record.destination = {"path": relationship.source_path}
        record.state = "snapmirrored"
        with endpoint.call("reverse-resync SnapMirror relationship %s" % _describe(relationship)):
            record.patch()
        reversed_ = [found for found in self.find(destination_path=relationship.source_path)
                     if found.source_path == relationship.destination_path]
        if not reversed_:
            raise SmhvError("STORAGE_OBJECT_NOT_FOUND", "After the reverse resync of %s no relationship %s -> %s is "
                            "visible on the configured clusters; add the cluster of %s to storage_systems." % (
                                _describe(relationship), relationship.destination_path, relationship.source_path,
                                relationship.source_path), {"relationship_uuid": relationship.uuid})
        return self._wait_settled(self._clusters.endpoint(reversed_[0].cluster), reversed_[0], "snapmirrored",
                                  "reverse resync")

    def _change_state(self, relationship, state, verb, **query):
        endpoint = self._clusters.endpoint(relationship.cluster)
        record = SnapmirrorRelationship(uuid=relationship.uuid)
        record.state = state
        with endpoint.call("%s SnapMirror relationship %s" % (verb, _describe(relationship))):
            record.patch(**{key: value for key, value in query.items() if value is not None})
        return self._wait_settled(endpoint, relationship, state, verb)

    def _wait_settled(self, endpoint, relationship, state, verb):
        """The relationship once it reports `state` with no transfer running."""
        action = "%s SnapMirror relationship %s" % (verb, _describe(relationship))

        def settled():
            current = self.get(relationship)
            return current if current.state == state and not current.transferring else None

        return self._wait(endpoint, action, settled, {"cluster": relationship.cluster,
                                                      "relationship_uuid": relationship.uuid, "wanted_state": state})

    @staticmethod
    def _wait(endpoint, action, check, details):
        """check() until it returns something: looked at again after MIN_POLL_INTERVAL (a check is a read or two of
        the relationship), then twice as long each time up to job_waits' longest pause, a second, so a long transfer is
        seen ended within a second of its end (it was up to the endpoint's poll interval, 5 s by default)."""
        deadline = time.monotonic() + endpoint.timeout
        delays = poll_delays(first=MIN_POLL_INTERVAL)
        while True:
            result = check()
            if result is not None:
                return result
            left = deadline - time.monotonic()
            if left <= 0:
                raise SmhvError("STORAGE_JOB_TIMEOUT", "Could not %s on ONTAP cluster %s within %s seconds; it is still "
                                "in progress on the cluster. Re-run when it has finished, or raise the storage system's "
                                "timeout." % (action, endpoint.label, endpoint.timeout), details)
            time.sleep(min(next(delays), left))


def _describe(relationship):
    return "%s -> %s" % (relationship.source_path, relationship.destination_path)
