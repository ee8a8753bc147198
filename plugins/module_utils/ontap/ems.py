# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Events in ONTAP's EMS log, the way SnapDrive and SnapCenter log to the cluster: POST
/api/support/ems/application-logs (ONTAP 9.11 and later) with the eight fields ONTAP requires. ONTAP
logs it as an app.log.<severity> event, and with autosupport_required also as a
callhome.client.app.<severity> event, which raises an AutoSupport. Nothing reads them back here;
an administrator sees them with `event log show -message-name app.log.*` or GET /api/support/ems/events.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.connection import HAS_NETAPP_ONTAP, ClusterRegistry

if HAS_NETAPP_ONTAP:
    from netapp_ontap.resources import EmsApplicationLog

EMS_MIN_VERSION = (9, 11, 0)
SEVERITIES = ("emergency", "alert", "error", "notice")
FIELDS = ("computer_name", "event_source", "app_version", "event_id", "category", "event_description", "severity",
          "autosupport_required")


class EmsLog:
    """The EMS application log of every cluster of `storage_systems` (argspec.storage_argument_spec)."""

    def __init__(self, storage_systems):
        self._clusters = ClusterRegistry(storage_systems)

    def reachable_clusters(self):
        """Names of the configured clusters that answer, and the errors of those that do not."""
        found, errors = self._clusters.reachable()
        return [identity.name for _endpoint, identity in found], errors

    def log(self, cluster, event):
        """Log `event` (a dict of FIELDS) on `cluster`; raises SmhvError, STORAGE_ERROR before ONTAP 9.11."""
        endpoint = self._clusters.endpoint(cluster)
        identity = endpoint.identity()
        if tuple(identity.version) < EMS_MIN_VERSION:
            raise SmhvError("STORAGE_ERROR", "ONTAP cluster %s runs %s; applications log to EMS over REST from ONTAP 9.11 on."
                            % (identity.name, ".".join(str(part) for part in identity.version)), {"cluster": identity.name})
        body = {name: event[name] for name in FIELDS}
        with endpoint.call("log an EMS event (%s: %s)" % (event["severity"], event["event_description"][:80])):
            EmsApplicationLog(**body).post()
        return identity.name
