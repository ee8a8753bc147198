"""The counters of every HostClient and StorageClient a module run creates, for the benchmarks.

Wraps the clients' constructors while a ClientRecorder is open (use it as a context manager), so a
benchmark can read WinRM messages and agent calls per host and ONTAP requests after calling a module's
`run()`, the same code path Ansible takes.
"""
from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap import client as ontap

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost import client as winhost


class ClientRecorder:
    def __init__(self):
        self.hosts, self.storage = [], []
        self._host_init, self._storage_init = winhost.HostClient.__init__, ontap.StorageClient.__init__
        recorder = self

        def host_init(client, *args, **kwargs):
            recorder._host_init(client, *args, **kwargs)
            recorder.hosts.append(client)

        def storage_init(client, *args, **kwargs):
            recorder._storage_init(client, *args, **kwargs)
            recorder.storage.append(client)
        winhost.HostClient.__init__, ontap.StorageClient.__init__ = host_init, storage_init

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def reset(self):
        """Forget the clients seen so far: the next counts are of what runs after this."""
        self.hosts, self.storage = [], []

    def close(self):
        winhost.HostClient.__init__, ontap.StorageClient.__init__ = self._host_init, self._storage_init

    def round_trips(self):
        """WinRM messages (WSMan request/response exchanges) per host name."""
        return self._per_host("round_trips")

    def agent_calls(self):
        return self._per_host("calls")

    def _per_host(self, counter):
        per_host = {}
        for client in self.hosts:
            per_host[client.name] = per_host.get(client.name, 0) + getattr(client.stats, counter)
        return per_host

    def ontap_calls(self):
        return sum(sum(client.call_counts().values()) for client in self.storage)

    def totals(self):
        """(WinRM messages over all hosts, ONTAP requests) since the last reset; then reset."""
        counted = sum(self.round_trips().values()), self.ontap_calls()
        self.reset()
        return counted
