# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connections to the configured ONTAP clusters, and the one place library errors become SmhvError.

A `StorageEndpoint` is one entry of `storage_systems`. It gives every thread its own netapp-ontap
`HostConnection` (and so its own requests session), because the library keeps per-connection state
that is not thread-safe and the engines call from several threads at once. `endpoint.call(action)`
is the context every ONTAP request runs in: it activates the thread's connection (the library's
thread-local `with conn:`) and turns any `NetAppRestError` into an `SmhvError` that names the cluster,
what was being done and what to do about it.

Job waits: every POST, PATCH and DELETE carries ONTAP's `return_timeout`, so the cluster answers when
the job has ended (201/200, or 202 after the timeout) and the library's first poll of the job finds it done.
Without it ONTAP answers 202 at once and the library, polling at a fixed interval, sleeps a whole interval
(5 s with the default timeout) after its first look at even a 0.3 s job. A 202 after ONTAP held the call
means the job outlasted return_timeout (a storage system timeout over 120 s): the response hook then looks
at the job itself with a short back-off (job_waits.py) before the library's poll, which finds it done.
What the cluster held and the hook waited of the timeout is taken off the library's polling, so a job
still running fails after `timeout` as before.

Job failures: the library polls ONTAP jobs itself but raises only "Job failed: <message>", losing
the job's uuid and ONTAP's integer error code, and reports a poll timeout without the job's uuid. A
response hook on each session therefore remembers the job links that mutating requests returned, and
on a failure the job is read back once to report its uuid, code and state.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import threading
import time

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.job_waits import wait_until_ended
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import ClusterIdentity

try:
    import requests
    from netapp_ontap import HostConnection
    from netapp_ontap.error import NetAppRestError
    from netapp_ontap.resources import Cluster, Job
except ImportError:
    HAS_NETAPP_ONTAP = False
else:
    HAS_NETAPP_ONTAP = True

PIP_INSTALL = "pip install netapp-ontap"
DEFAULT_TIMEOUT = 60
# Job poll interval: a sixth of the time left to wait, so a slow job is looked at about six times, but
# at least MIN so a short timeout does not hammer the cluster and at most MAX so a long one does not
# make every wait a multiple of minutes.
MIN_POLL_INTERVAL = 0.2
MAX_POLL_INTERVAL = 5.0
MAX_CONNECT_TIMEOUT = 10
# ONTAP holds a call for its job at most this long ("The value ... is invalid for field return_timeout
# (<0..120>)"); such a call's HTTP read timeout leaves REPLY_MARGIN on top for the answer itself.
MAX_RETURN_TIMEOUT = 120
REPLY_MARGIN = 10
JOB_METHODS = ("POST", "PATCH", "DELETE")
CLI_PASSTHROUGH = "/api/private/cli/"  # synchronous ONTAP commands, no job to wait for

ENTRY_NOT_FOUND = 4
JOB_RUNNING_STATES = ("queued", "running", "paused")

# What a user can do about each kind of failure; appended to the message.
HINTS = {
    "STORAGE_UNREACHABLE": "Check the hostname and port in storage_systems and that the cluster management "
                           "LIF is reachable from the Ansible controller.",
    "STORAGE_TLS_ERROR": "Set ca_path to the CA bundle that signed the cluster's certificate "
                         "(or validate_certs: false for a lab).",
    "STORAGE_AUTH_FAILED": "Check username and password (or the client certificate) in storage_systems and "
                           "that the account has the http application with a role allowing this call.",
    "STORAGE_JOB_TIMEOUT": "The job is still running on the cluster: check it with `job show -id` or "
                           "GET /api/cluster/jobs/<uuid>, then re-run; or raise the storage system's timeout.",
}


def require_netapp_ontap():
    if not HAS_NETAPP_ONTAP:
        raise SmhvError("MISSING_DEPENDENCY",
                        "The netapp-ontap Python library is required to talk to ONTAP; install it on the Ansible "
                        "controller with `%s` (in the Python that runs Ansible)." % PIP_INSTALL,
                        {"pip": PIP_INSTALL})


def poll_interval_for(timeout):
    return min(max(timeout / 6.0, MIN_POLL_INTERVAL), MAX_POLL_INTERVAL)


def parse_version(version):
    """ONTAP's version object {generation, major, minor} as a comparable tuple."""
    return (int(version.get("generation", 0)), int(version.get("major", 0)), int(version.get("minor", 0)))


class StorageEndpoint:
    """One entry of `storage_systems`: settings, a connection per thread, identity and call counts."""

    def __init__(self, system):
        require_netapp_ontap()
        self.hostname = system["hostname"]
        self.port = int(system.get("port") or 443)
        self.timeout = int(system.get("timeout") or DEFAULT_TIMEOUT)
        self.poll_interval = poll_interval_for(self.timeout)
        self.return_timeout = min(self.timeout, MAX_RETURN_TIMEOUT)
        self.connect_timeout = min(MAX_CONNECT_TIMEOUT, self.timeout)
        self._username = system.get("username")
        self._password = system.get("password")
        self._cert = system.get("cert_filepath")
        self._key = system.get("key_filepath")
        # requests' `verify`: a CA bundle path trusts exactly that CA, a bool switches checking on/off.
        validate = system.get("validate_certs")
        self._ca_path = system.get("ca_path")
        self._verify = self._ca_path or (True if validate is None else bool(validate))
        self._local = threading.local()
        self._lock = threading.Lock()  # guards `calls`, bumped by every thread's response hook
        self._identity_lock = threading.Lock()
        self._identity = None
        self.calls = 0
        self._check_credentials()
        self._check_files()

    @property
    def address(self):
        return "%s:%s" % (self.hostname, self.port)

    @property
    def label(self):
        """How messages name this system: the cluster name once known, with its address."""
        if self._identity is None:
            return "at %s" % self.address
        return "'%s' (%s)" % (self._identity.name, self.address)

    def _check_credentials(self):
        if self._cert or self._key:
            if not (self._cert and self._key):
                raise SmhvError("INVALID_ARGUMENT", "storage system %s: certificate authentication needs both "
                                "cert_filepath and key_filepath." % self.address, {"hostname": self.hostname})
        elif not (self._username and self._password):
            raise SmhvError("INVALID_ARGUMENT", "storage system %s: give username and password, or cert_filepath "
                            "and key_filepath." % self.address, {"hostname": self.hostname})

    def _check_files(self):
        """A TLS file that is not there fails here, naming the system, instead of deep inside requests."""
        for option, path in (("ca_path", self._ca_path), ("cert_filepath", self._cert), ("key_filepath", self._key)):
            if path and not os.path.isfile(path):
                raise SmhvError("INVALID_ARGUMENT", "storage system %s: %s %s is not a readable file on the controller%s."
                                % (self.address, option, path, " (give the CA bundle that signed the cluster's certificate)"
                                   if option == "ca_path" else ""),
                                {"hostname": self.hostname, "option": "storage_systems.%s" % option, "path": path})

    def _new_connection(self):
        credentials = dict(cert=self._cert, key=self._key) if self._cert else \
            dict(username=self._username, password=self._password)
        return HostConnection(self.hostname, port=self.port, verify=self._verify, poll_timeout=self.timeout,
                              poll_interval=self.poll_interval,
                              protocol_timeouts=(self.connect_timeout, self.timeout),
                              **credentials)

    def connection(self):
        """This thread's HostConnection, with the counting hook on its current session."""
        conn = getattr(self._local, "connection", None)
        if conn is None:
            conn = self._local.connection = self._new_connection()
            self._local.job_links = []
        # The library drops its session after a 401 on certificate auth, so check the hook each time.
        session = conn.session
        if self._on_response not in session.hooks["response"]:
            session.hooks["response"].append(self._on_response)
            job_call_timeouts = (self.connect_timeout, self.return_timeout + REPLY_MARGIN)
            _answer_when_jobs_end(session, self.return_timeout, job_call_timeouts)
            if self._ca_path:
                _pin_ca_bundle(session, self._ca_path)
        return conn

    def _on_response(self, response, *_args, **_kwargs):
        with self._lock:
            self.calls += 1
        if response.request.method != "GET" and b'"job' in response.content:
            try:
                body = response.json()
            except ValueError:
                return
            jobs = body.get("jobs") or ([body["job"]] if isinstance(body.get("job"), dict) else [])
            links = [job.get("_links", {}).get("self", {}).get("href") or "/api/cluster/jobs/%s" % job.get("uuid") for job in jobs]
            self._local.job_links.extend(links)
            if jobs:
                spent = response.elapsed.total_seconds()
                if response.status_code == 202:  # the job outlasted return_timeout: still running
                    started = time.monotonic()
                    wait_until_ended(lambda: self._any_running(links), self.timeout - spent)
                    spent += time.monotonic() - started
                self._poll_for_the_rest(spent)

    def _any_running(self, links):
        """Whether any of these jobs is still queued, running or paused (read on this thread's session)."""
        conn = self._local.connection
        for href in links:
            reply = conn.session.get(conn.origin + href, params={"fields": "state"}, timeout=(self.connect_timeout, self.timeout))
            if reply.ok and reply.json().get("state") in JOB_RUNNING_STATES:
                return True
        return False

    def _poll_for_the_rest(self, held):
        """The library polls this call's jobs for what is left of the timeout after ONTAP held the call
        (return_timeout): a job still running then is not given a second full timeout."""
        conn = self._local.connection
        left = max(self.timeout - held, 0.0)
        conn.poll_interval = poll_interval_for(left)
        conn.poll_timeout = max(left, conn.poll_interval)

    def identity_if_known(self):
        return self._identity

    def started_jobs(self):
        """Links of the jobs that the current call's requests started (this thread)."""
        return list(getattr(self._local, "job_links", []))

    def identity(self):
        """GET /api/cluster once per client, whichever thread asks first; then the cached answer."""
        with self._identity_lock:
            if self._identity is None:
                with self.call("read the cluster identity"):
                    cluster = Cluster()
                    cluster.get(fields="name,uuid,version")
                self._identity = ClusterIdentity(name=cluster.name, uuid=cluster.uuid,
                                                 version=parse_version(cluster.version.to_dict()),
                                                 hostname=self.hostname, port=self.port)
            return self._identity

    @contextlib.contextmanager
    def call(self, action, ontap_codes=None):
        """Run library calls for `action` (e.g. "create snapshot 's1' of volume vs0:v1") on this cluster.

        `ontap_codes` maps ONTAP error codes to SmhvError codes for failures the caller expects and
        its callers handle, e.g. {1638555: "SNAPSHOT_BUSY"}.
        """
        conn = self.connection()
        self._local.job_links = []
        with conn:
            try:
                yield conn
            except NetAppRestError as error:
                raise self._translate(action, error, ontap_codes or {}) from None

    def _translate(self, action, error, ontap_codes):
        details = {"cluster": self._identity.name if self._identity else None, "hostname": self.hostname,
                   "port": self.port, "action": action}
        cause = getattr(error, "cause", None)
        if cause is not None and error.status_code is None:
            return self._transport_error(action, cause, details)
        if error.status_code is not None:
            return self._http_error(action, error, details, ontap_codes)
        job = self._last_unsuccessful_job()
        if job is not None:
            return self._job_error(action, job, details, ontap_codes)
        return SmhvError("STORAGE_ERROR", "Could not %s on ONTAP cluster %s: %s" % (action, self.label, error),
                         details)

    def _read_timeout(self, cause):
        request = getattr(cause, "request", None)
        waits_for_job = request is not None and request.method in JOB_METHODS and CLI_PASSTHROUGH not in request.url
        return self.return_timeout + REPLY_MARGIN if waits_for_job else self.timeout

    def _transport_error(self, action, cause, details):
        details["reason"] = str(cause)
        if isinstance(cause, requests.exceptions.SSLError):
            code, what = "STORAGE_TLS_ERROR", "the TLS handshake failed (%s)" % cause
        elif isinstance(cause, requests.exceptions.Timeout):
            code, what = "STORAGE_UNREACHABLE", "it did not answer within %s seconds" % self._read_timeout(cause)
        elif isinstance(cause, requests.exceptions.ConnectionError):
            code, what = "STORAGE_UNREACHABLE", "it could not be reached (%s)" % cause
        else:
            code, what = "STORAGE_ERROR", "the request failed (%s)" % cause
        message = "Could not %s on ONTAP cluster %s: %s. %s" % (action, self.label, what, HINTS.get(code, ""))
        return SmhvError(code, message.strip(), details)

    def _http_error(self, action, error, details, ontap_codes):
        body = error.response_body or {}
        ontap_error = body.get("error", {}) if isinstance(body, dict) else {}
        message = ontap_error.get("message") or str(error)
        ontap_code = _as_int(ontap_error.get("code"))
        status = error.status_code
        details.update(http_status=status, ontap_code=ontap_code, ontap_message=message)
        if ontap_code in ontap_codes:
            code = ontap_codes[ontap_code]
        elif status in (401, 403):
            code = "STORAGE_AUTH_FAILED"
        elif status == 404 or ontap_code == ENTRY_NOT_FOUND:
            code = "STORAGE_OBJECT_NOT_FOUND"
        else:
            code = "STORAGE_ERROR"
        ontap_ref = "HTTP %s" % status + (", ONTAP error %s" % ontap_code if ontap_code is not None else "")
        text = "Could not %s on ONTAP cluster %s: %s (%s)." % (action, self.label, message.rstrip("."), ontap_ref)
        return SmhvError(code, text + (" " + HINTS[code] if code in HINTS else ""), details)

    def _last_unsuccessful_job(self):
        """The newest job this call started that did not succeed, read back with its code; or None."""
        for href in reversed(self._local.job_links):
            job = Job(uuid=href.rstrip("/").rsplit("/", 1)[-1])
            try:
                job.get(fields="uuid,state,message,code,error,description")
            except NetAppRestError:
                # Gone (jobs expire) or unreadable: report what the library said, with the uuid.
                return {"uuid": job.uuid, "state": "unknown", "message": ""}
            record = job.to_dict()
            if record.get("state") != "success":
                return record
        return None

    def _job_error(self, action, job, details, ontap_codes):
        job_uuid = job.get("uuid")
        details["job_uuid"] = job_uuid
        if job.get("state") in JOB_RUNNING_STATES:
            details["job_state"] = job["state"]
            return SmhvError("STORAGE_JOB_TIMEOUT", "Could not %s on ONTAP cluster %s: job %s is still %s after %s "
                             "seconds. %s" % (action, self.label, job_uuid, job["state"], self.timeout,
                                              HINTS["STORAGE_JOB_TIMEOUT"]), details)
        error = job.get("error") or {}
        ontap_code = _as_int(job.get("code")) or _as_int(error.get("code"))
        message = (job.get("message") or error.get("message") or "no message").rstrip(".")
        details.update(job_state=job.get("state"), ontap_code=ontap_code, ontap_message=message)
        code = ontap_codes.get(ontap_code, "STORAGE_JOB_FAILED")
        return SmhvError(code, "Could not %s on ONTAP cluster %s: %s (ONTAP error %s, job %s)."
                         % (action, self.label, message, ontap_code, job_uuid), details)


def _answer_when_jobs_end(session, seconds, timeouts):
    """Send `return_timeout` with every POST, PATCH and DELETE but the CLI passthrough's, read within
    `timeouts` (connect, read): ONTAP then answers when the call's job has ended, up to `seconds`
    (NetApp/trident issue 1144 measured a volume create at 1.0 s this way, against 3.9 s polling with
    backoff). Reads keep the storage system's timeout."""
    send = session.request

    def request_answered_when_done(method, url, *args, **kwargs):
        if method.upper() in JOB_METHODS and CLI_PASSTHROUGH not in url:
            kwargs["params"] = dict(kwargs.get("params") or {}, return_timeout=seconds)
            kwargs["timeout"] = timeouts
        return send(method, url, *args, **kwargs)

    session.request = request_answered_when_done


def _pin_ca_bundle(session, ca_path):
    """Make `ca_path` win over REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE, which requests otherwise lets
    replace a session's own `verify` (psf/requests#3829); execution environments often set them."""
    merge = session.merge_environment_settings

    def merge_keeping_ca_path(url, proxies, stream, verify, cert):
        settings = merge(url, proxies, stream, verify, cert)
        settings["verify"] = ca_path
        return settings

    session.merge_environment_settings = merge_keeping_ca_path


def _as_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class ClusterRegistry:
    """Every configured storage system, found by ONTAP cluster name (identified lazily, once)."""

    def __init__(self, storage_systems):
        require_netapp_ontap()
        if not storage_systems:
            raise SmhvError("INVALID_ARGUMENT", "storage_systems is empty: give at least one ONTAP cluster.")
        self.endpoints = [StorageEndpoint(system) for system in storage_systems]

    def identities(self):
        return [endpoint.identity() for endpoint in self.endpoints]

    def endpoint(self, cluster):
        """The endpoint of cluster `cluster` (its ONTAP name, or a configured hostname)."""
        for endpoint in self.endpoints:
            if endpoint.hostname == cluster:
                endpoint.identity()  # so that messages name the cluster
                return endpoint
        unreachable = []
        for endpoint in self.endpoints:
            try:
                if endpoint.identity().name == cluster:
                    return endpoint
            except SmhvError as error:
                unreachable.append(error)
        if unreachable:
            raise unreachable[0]
        known = ", ".join(sorted(endpoint.identity().name for endpoint in self.endpoints))
        raise SmhvError("INVALID_ARGUMENT", "No configured storage system is ONTAP cluster '%s' (configured: %s); "
                        "add it to storage_systems." % (cluster, known), {"cluster": cluster})

    def reachable(self):
        """(endpoint, identity) for every cluster that answers, and the errors of those that do not,
        for searches across clusters that must work while one site is down."""
        found, errors = [], []
        for endpoint in self.endpoints:
            try:
                found.append((endpoint, endpoint.identity()))
            except SmhvError as error:
                errors.append(error)
        return found, errors

    def call_counts(self):
        """REST requests sent so far, per cluster name (or address, for a cluster never identified)."""
        counts = {}
        for endpoint in self.endpoints:
            key = endpoint.identity_if_known().name if endpoint.identity_if_known() else endpoint.address
            counts[key] = counts.get(key, 0) + endpoint.calls
        return counts


def fetch(resource, *parents, **query):
    """The records of a collection query as plain dicts.

    This is the library's fast path (RawResource): building a schema object per record, which also
    serialises it back once, costs about 50 ms for a LUN, far too slow for the hundreds of LUNs of a
    large backup."""
    return [raw.resource_data for raw in resource.fast_get_collection(*parents, **query)]


def dig(record, dotted, default=None):
    """record["a"]["b"] for dotted "a.b", or `default` where a level is missing."""
    value = record
    for key in dotted.split("."):
        if not isinstance(value, dict) or value.get(key) is None:
            return default
        value = value[key]
    return value


def parse_time(value):
    """ONTAP's ISO 8601 timestamps ("2026-11-25T12:00:00+00:00") as aware datetimes."""
    return datetime.datetime.fromisoformat(value) if value else None
