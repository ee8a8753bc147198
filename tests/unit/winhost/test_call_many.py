"""call_many(): one op on several hosts in parallel, each host's failure kept apart; require_all() on top."""
from __future__ import annotations

import threading

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import AgentReply, HostClient, call_many, require_all

WINRM = {"username": "u", "password": "p"}


def clients_answering(monkeypatch, answers):
    """HostClients whose call() answers from `answers` (name -> AgentReply, SmhvError or other exception)."""
    clients = []
    for name, answer in answers.items():
        client = HostClient(name, WINRM)

        def call(op, args=None, check_mode=False, timeout=None, name=name, answer=answer):
            if isinstance(answer, BaseException):
                raise answer
            return AgentReply(result={"host": name, "op": op, "args": args, "check_mode": check_mode})

        monkeypatch.setattr(client, "call", call)
        clients.append(client)
    return clients


def unreachable(name):
    return SmhvError("HOST_UNREACHABLE", "Windows host %s refused the connection" % name, {"host": name})


def test_one_failure_does_not_hide_the_others(monkeypatch):
    clients = clients_answering(monkeypatch, {"hv03": None, "hv01": unreachable("hv01"), "hv02": None})
    results = call_many(clients, "host_facts", check_mode=True)
    assert list(results) == ["hv03", "hv01", "hv02"]  # the caller's order
    assert results["hv03"].result == {"host": "hv03", "op": "host_facts", "args": None, "check_mode": True}
    assert isinstance(results["hv01"], SmhvError) and results["hv01"].code == "HOST_UNREACHABLE"


def test_args_are_routed_per_host_and_a_dict_of_clients_is_accepted(monkeypatch):
    clients = {client.name: client for client in clients_answering(monkeypatch, {"hv01": None, "hv02": None})}
    results = call_many(clients, "vm_inventory", {"hv02": {"vms": ["b"]}})
    assert results["hv01"].result["args"] is None
    assert results["hv02"].result["args"] == {"vms": ["b"]}


def test_args_for_a_host_without_client_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="hv09"):
        call_many(clients_answering(monkeypatch, {"hv01": None}), "vm_inventory", {"hv09": {}})


def test_clients_with_the_same_name_are_refused():
    with pytest.raises(ValueError, match="share a host name"):
        call_many([HostClient("hv01", WINRM), HostClient("hv01", WINRM)], "host_facts")


def test_hosts_are_called_in_parallel():
    barrier = threading.Barrier(3, timeout=5)  # breaks (BrokenBarrierError) unless all three calls overlap
    clients = [HostClient(name, WINRM) for name in ("hv01", "hv02", "hv03")]
    for client in clients:
        client.call = lambda op, args=None, check_mode=False, timeout=None: AgentReply({"waited": barrier.wait() >= 0})
    assert all(reply.result["waited"] for reply in call_many(clients, "host_facts").values())


def test_a_bug_is_not_swallowed(monkeypatch):
    with pytest.raises(TypeError):
        call_many(clients_answering(monkeypatch, {"hv01": None, "hv02": TypeError("bug")}), "host_facts")


def test_no_clients_no_calls():
    assert call_many([], "host_facts") == {}


def test_require_all_returns_the_replies_when_every_host_answered(monkeypatch):
    results = call_many(clients_answering(monkeypatch, {"hv01": None, "hv02": None}), "host_facts")
    assert require_all(results) == results


def test_require_all_raises_one_error_listing_every_failure(monkeypatch):
    timeout = SmhvError("HOST_TIMEOUT", "hv03 did not answer", {"host": "hv03"})
    results = call_many(clients_answering(monkeypatch, {"hv01": unreachable("hv01"), "hv02": None, "hv03": timeout}), "host_facts")
    with pytest.raises(SmhvError) as caught:
        require_all(results)
    error = caught.value
    assert error.code == "HOST_UNREACHABLE"  # the first failure's code, so playbooks can still branch on it
    assert error.message == "2 of 3 hosts failed: hv01: Windows host hv01 refused the connection; hv03: hv03 did not answer"
    assert error.details["succeeded"] == ["hv02"]
    assert error.details["failures"]["hv03"] == {"code": "HOST_TIMEOUT", "message": "hv03 did not answer", "details": {"host": "hv03"}}


def test_sixteen_nodes_are_called_in_one_wave(monkeypatch):
    # Each call waits until all 16 are in flight: with 8 workers (issue 20: a 16-node backup in two waves) the barrier breaks.
    everyone = threading.Barrier(16, timeout=5)
    clients = clients_answering(monkeypatch, dict(("hb%02d" % number, None) for number in range(1, 17)))
    for client in clients:
        answer = client.call

        def call(op, args=None, check_mode=False, timeout=None, answer=answer):
            everyone.wait()
            return answer(op, args, check_mode, timeout)

        monkeypatch.setattr(client, "call", call)
    results = require_all(call_many(clients, "host_facts"))
    assert sorted(results) == ["hb%02d" % number for number in range(1, 17)]
