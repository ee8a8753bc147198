"""A scripted ONTAP at the requests transport: each test lists the requests it expects, in order.

`HTTPAdapter.send` is replaced, so everything above it runs for real: the netapp-ontap library's
URL and body building, its job polling, the session hooks StorageClient counts calls with. A request
that was not expected, or an expected one never sent, fails the test.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.client import StorageClient


@dataclass
class Expected:
    host: str
    method: str
    path: str  # regex, full match against the URL path
    status: int = 200
    body: dict | None = None
    headers: dict = field(default_factory=dict)
    raises: Exception | None = None
    repeat: bool = False  # answers every matching request until one matches the next expectation
    answered: int = 0

    def matches(self, host, method, path):
        return (host, method) == (self.host, self.method) and re.fullmatch(self.path, path) is not None


@dataclass
class Sent:
    host: str
    method: str
    path: str
    query: dict
    body: dict | None


class FakeOntap:
    def __init__(self) -> None:
        self.expected: list[Expected] = []
        self.sent: list[Sent] = []

    def expect(self, host, method, path, status=200, body=None, headers=None, raises=None, repeat=False):
        self.expected.append(Expected(host, method, path, status, body, dict(headers or {}), raises, repeat))

    def identity(self, host, name, version=(9, 13, 1)):
        generation, major, minor = version
        self.expect(host, "GET", "/api/cluster", body={
            "name": name, "uuid": "uuid-" + name,
            "version": {"full": "NetApp Release %d.%d.%d" % version, "generation": generation, "major": major,
                        "minor": minor}})

    def job(self, host, uuid, state="success", message="", code=0, repeat=False):
        self.expect(host, "GET", "/api/cluster/jobs/" + uuid,
                    body={"uuid": uuid, "state": state, "message": message, "code": code}, repeat=repeat)

    @staticmethod
    def job_link(uuid):
        return {"job": {"uuid": uuid, "_links": {"self": {"href": "/api/cluster/jobs/" + uuid}}}}

    def send(self, request):
        url = urlsplit(request.url)
        body = json.loads(request.body) if request.body else None
        self.sent.append(Sent(url.hostname, request.method, url.path, dict(parse_qsl(url.query)), body))
        while self.expected and self.expected[0].repeat and self.expected[0].answered \
                and not self.expected[0].matches(url.hostname, request.method, url.path):
            self.expected.pop(0)
        assert self.expected, "unexpected request %s %s" % (request.method, request.url)
        step = self.expected[0]
        assert step.matches(url.hostname, request.method, url.path), \
            "expected %s %s %s, got %s %s" % (step.host, step.method, step.path, request.method, request.url)
        step.answered += 1
        if not step.repeat:
            self.expected.pop(0)
        if step.raises is not None:
            raise step.raises
        response = requests.Response()
        response.status_code = step.status
        response.reason = {200: "OK", 201: "Created", 202: "Accepted"}.get(step.status, "Error")
        response._content = json.dumps(step.body if step.body is not None else {}).encode()
        response.headers = CaseInsensitiveDict(dict({"Content-Type": "application/json"}, **step.headers))
        response.url = request.url
        response.request = request
        return response

    def sent_to(self, method, path_regex):
        return [s for s in self.sent if s.method == method and re.fullmatch(path_regex, s.path)]


@pytest.fixture
def ontap(monkeypatch):
    fake = FakeOntap()
    monkeypatch.setattr(HTTPAdapter, "send", lambda adapter, request, **kwargs: fake.send(request))
    # Job and transfer waits must not slow the suite: sleeping advances a fake clock instead.
    clock = [1000.0]
    monkeypatch.setattr("time.monotonic", lambda: clock[0])
    monkeypatch.setattr("time.sleep", lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    yield fake
    left = [e for e in fake.expected if not (e.repeat and e.answered)]
    assert not left, "expected requests never sent: %s" % ["%s %s %s" % (e.host, e.method, e.path) for e in left]


def system(hostname, **overrides):
    return dict(dict(hostname=hostname, username="admin", password="secret", port=443, validate_certs=True,
                     ca_path=None, cert_filepath=None, key_filepath=None, timeout=30), **overrides)


@pytest.fixture
def storage_system():
    """storage_systems entry factory: storage_system("c1", timeout=2)."""
    return system


@pytest.fixture
def client():
    return StorageClient([system("c1"), system("c2")])
