"""The lab's control API: plain HTTP JSON on loopback, for tests, benchmarks and the demo.

    GET  /status                      liveness and request counters
    GET  /state                       the whole world, summarised (storage and Windows)
    POST /reset                       back to the topology, faults and latency cleared
    POST /save                        write the world to the state dir now
    GET  /faults   POST /faults       list / add a rule {target, kind, match, nth, times, params}
    POST /site                        {site, state: down|up, how: drop|hang, seconds}: every ONTAP cluster, WinRM listener
                                      and agent of a site drops (or holds) each request, or answers again (sites.py)
    DELETE /faults                    clear rules and latency
    POST /latency                     {target, seconds}
    POST /guest-data                  {vm, path, data, in_flight}   write a file inside a VM; the path
                                      is the guest's ('C:\\data\\x.db'; C: is the first virtual disk)
    GET  /guest-data?vm=&path=        {data, complete}
    GET  /snapshot-guest-data?vm=&path=&snapshot=   the guest file as a snapshot of its LUN's volume holds it
    POST /vm                          {vm, state?, migration?, ip_addresses?}   change a VM's runtime state (the addresses
                                      its guest reports on its network adapters)
    POST /vm-storage                  {vm, action, path?, destination?, size_gib?}   an administrator's change to a
                                      VM's storage: add_disk, remove_disk, move_disk, snapshot_location,
                                      configuration_location (vm_admin.py)
    POST /volume-move                 {host, access_path, name, volume?}   the volume at access_path moved to a new LUN
    DELETE /vm?vm=                    delete a VM as an administrator would (turned off, cluster role and
                                      registration removed, configuration file deleted; its disks stay)
    GET  /ontap-requests              per ONTAP cluster, each REST method and route the clients called, with counts
    GET  /ontap-jobs   POST /ontap-jobs  how long each cluster's jobs take / set it {cluster?, profile?: realistic|instant,
                                      durations?: {"snapshot.create": 0.3, ...}} (ontap/jobs.py)
    GET  /hyperv-timing   POST /hyperv-timing  how long each host's checkpoints and merges take and how many it runs at
                                      once / set it {host?, profile?: realistic|instant, durations?: {"checkpoint.create":
                                      5}, concurrency?} (hyperv/timing.py)
    POST /licences                    {cluster?, unlicensed: [package...]}: the ONTAP licence packages a cluster (every
                                      cluster when none is named) lacks; [] licenses everything again
    GET  /log                         commands the hosts did not recognise
    GET  /agent-requests              the agent requests the hosts ran, in order (host, op, ok, code; the newest 500)
    DELETE /agent-requests            forget them (and the unrecognised commands)
    GET  /storage-objects             per ONTAP cluster: snapshots with uuid and comment, LUNs with their clone source,
                                      consistency groups, LUN maps, igroups (what leftovers are told by)
    GET  /host-files?host=&path=      every file below a host's folder, as text, read from the world (not over WinRM)
"""
from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import sites, vm_admin, world_view
from .hyperv import timing as hyperv_timing
from .ontap import jobs as ontap_jobs
from .ontap.resources import licensing


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ControlServer:
    def __init__(self, lab, bind: str = "127.0.0.1", port: int = 0) -> None:
        self.lab = lab
        handler = type("Handler", (_Handler,), {"lab": lab})
        self._server = ThreadingHTTPServer((bind, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="smhv-lab-control", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    lab: Any
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep the lab's output quiet
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw.strip() else {}
            route = ROUTES.get((method, url.path.rstrip("/") or "/"))
            if route is None:
                raise ControlError(HTTPStatus.NOT_FOUND, f"no control endpoint {method} {url.path}")
            status, answer = HTTPStatus.OK, route(self.lab, body, query)
        except ControlError as error:
            status, answer = error.status, {"error": str(error)}
        except (KeyError, ValueError, TypeError) as error:
            status, answer = HTTPStatus.BAD_REQUEST, {"error": f"{type(error).__name__}: {error}"}
        data = json.dumps(answer, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _status(lab, body, query):
    return {"ok": True, "counters": dict(lab.faults.counters), "latency": dict(lab.faults.latency),
            "ontap": sorted(lab.ontap), "hosts": sorted(lab.winrm)}


def _state(lab, body, query):
    with lab.world.lock:
        return world_view.world_state(lab.world)


def _reset(lab, body, query):
    lab.reset()
    return {"reset": True}


def _save(lab, body, query):
    lab.world.save(lab.state_dir)
    return {"saved": True}


def _faults_list(lab, body, query):
    return {"rules": lab.faults.rules(), "latency": lab.faults.latency}


def _faults_add(lab, body, query):
    rule = lab.faults.add(body["target"], body["kind"], body.get("match"), int(body.get("nth", 1)),
                          int(body.get("times", 1)), body.get("params"))
    return rule.as_dict()


def _faults_clear(lab, body, query):
    lab.faults.clear()
    return {"cleared": True}


def _latency(lab, body, query):
    lab.faults.set_latency(body["target"], float(body["seconds"]))
    return {"latency": lab.faults.latency}


def _guest_write(lab, body, query):
    with lab.world.lock:
        return world_view.write_guest(lab.world, body["vm"], body["path"], body["data"], bool(body.get("in_flight")))


def _guest_read(lab, body, query):
    with lab.world.lock:
        return world_view.read_guest(lab.world, query["vm"], query["path"])


def _guest_read_snapshot(lab, body, query):
    with lab.world.lock:
        return world_view.read_guest_in_snapshot(lab.world, query["vm"], query["path"], query["snapshot"])


def _vm(lab, body, query):
    with lab.world.lock:
        return world_view.set_vm_runtime(lab.world, body["vm"], body.get("state"), body.get("migration"), body.get("ip_addresses"))


def _vm_delete(lab, body, query):
    with lab.world.lock:
        return world_view.delete_vm(lab.world, query["vm"])


def _ontap_requests(lab, body, query):
    with lab.world.lock:
        return {name: [{"method": method, "path": path, "count": count}
                       for (method, path), count in sorted(server.router.served.items())]
                for name, server in sorted(lab.ontap.items())}


def _ontap_jobs(lab, body, query):
    with lab.world.lock:
        return {cluster.name: ontap_jobs.timing(cluster) for cluster in lab.world.clusters.values()}


def _ontap_jobs_set(lab, body, query):
    with lab.world.lock:
        return ontap_jobs.configure_world(lab.world, body)


def _hyperv_timing(lab, body, query):
    with lab.world.lock:
        return {host.name: hyperv_timing.timing(host) for host in lab.world.hosts.values()}


def _hyperv_timing_set(lab, body, query):
    with lab.world.lock:
        return hyperv_timing.configure_world(lab.world, body)


def _vm_storage(lab, body, query):
    with lab.world.lock:
        return vm_admin.vm_storage(lab.world, body)


def _volume_move(lab, body, query):
    with lab.world.lock:
        return vm_admin.volume_move(lab.world, body)


def _log(lab, body, query):
    return {"unrecognised": list(getattr(lab.executor, "unrecognised", []))}


def _agent_requests(lab, body, query):
    return {"requests": list(lab.executor.requests)}


def _agent_requests_clear(lab, body, query):
    lab.executor.clear_logs()
    return {"cleared": True}


def _storage_objects(lab, body, query):
    with lab.world.lock:
        return world_view.storage_objects(lab.world)


def _host_files(lab, body, query):
    with lab.world.lock:
        try:
            return world_view.host_files(lab.world, query["host"], query["path"])
        except FileNotFoundError as error:
            raise ControlError(HTTPStatus.NOT_FOUND, str(error)) from None


def _licences(lab, body, query):
    with lab.world.lock:
        return licensing.set_unlicensed(lab.world, body)


def _site(lab, body, query):
    return sites.site_request(lab, body)


ROUTES = {
    ("GET", "/status"): _status,
    ("GET", "/state"): _state,
    ("POST", "/reset"): _reset,
    ("POST", "/save"): _save,
    ("GET", "/faults"): _faults_list,
    ("POST", "/faults"): _faults_add,
    ("POST", "/site"): _site,
    ("DELETE", "/faults"): _faults_clear,
    ("POST", "/latency"): _latency,
    ("POST", "/guest-data"): _guest_write,
    ("GET", "/guest-data"): _guest_read,
    ("GET", "/snapshot-guest-data"): _guest_read_snapshot,
    ("POST", "/vm"): _vm,
    ("POST", "/vm-storage"): _vm_storage,
    ("POST", "/volume-move"): _volume_move,
    ("DELETE", "/vm"): _vm_delete,
    ("GET", "/ontap-requests"): _ontap_requests,
    ("GET", "/ontap-jobs"): _ontap_jobs,
    ("POST", "/ontap-jobs"): _ontap_jobs_set,
    ("GET", "/hyperv-timing"): _hyperv_timing,
    ("POST", "/hyperv-timing"): _hyperv_timing_set,
    ("POST", "/licences"): _licences,
    ("GET", "/log"): _log,
    ("GET", "/agent-requests"): _agent_requests,
    ("DELETE", "/agent-requests"): _agent_requests_clear,
    ("GET", "/storage-objects"): _storage_objects,
    ("GET", "/host-files"): _host_files,
}
