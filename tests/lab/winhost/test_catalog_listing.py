"""The SnapInfo catalog through HostClient, the lab's WinRM server (PSRP, NTLM, TLS) and its file ops: the same
listings as in memory, and what a listing costs on the wire (messages and bytes, not seconds, so it cannot flake)."""
from __future__ import annotations

import dataclasses
import datetime
import json

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.store import LAYOUT
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import BackupVm, Dataset, encode
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository, MemoryRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import backup_name
from unit.catalog.factory import SCOPE, T0, make_backup

HOST = "hv1"
SNAPINFO = "J:\\SnapInfo"


def copy_into_the_lab(memory, world):
    """Every file of a MemoryRepository into J:\\SnapInfo on the lab host, straight into the world."""
    paths = [entry.path for entry in memory.list("", recurse=True) if not entry.is_directory]
    for path, stored in memory.read(paths).items():
        world.host(HOST).write_file(world, SNAPINFO + "\\" + path.replace("/", "\\"), stored.text.encode("utf-8"))
    return len(paths)


class Weighing:
    """A HostClient that counts the agent calls it makes and the JSON size of their results."""

    def __init__(self, inner):
        self.inner, self.name = inner, inner.name
        self.calls, self.result_bytes = [], 0

    def call(self, op, args=None, **kwargs):
        reply = self.inner.call(op, args, **kwargs)
        self.calls.append(op)
        self.result_bytes += len(json.dumps(reply.result, separators=(",", ":")))
        return reply


@pytest.fixture
def psrp(connect):
    return connect("psrp", "ntlm-https")


def test_listings_through_the_lab_equal_the_listings_in_memory(psrp, world):
    memory = MemoryRepository()
    in_memory = Catalog(memory)
    in_memory.initialize(SCOPE)
    for dataset, vms in (("prod", ("a", "b")), ("Dev-2", ("b", "c")), ("x", ("a",))):
        in_memory.put_dataset(Dataset(dataset))
        for hour in range(30):
            record = make_backup(dataset, T0 + datetime.timedelta(hours=hour), vms=vms[:1 + hour % len(vms)],
                                 tag=("hourly", "daily", "unlimited")[hour % 3], status="failed" if hour % 7 == 6 else "ok",
                                 backup_type="crash" if hour % 5 == 4 else "application")
            if dataset == "x" and hour == 12:  # a VM skipped in a backup is not in it
                record = dataclasses.replace(record, vms=(BackupVm("id-a", "a", "hv01", "skipped", "migrating"),))
            in_memory.save_backup(record)
    # A backup newer than its dataset's VM index (its writer died before the index): listings still find it.
    late = make_backup("prod", T0 + datetime.timedelta(days=3), vms=("c",))
    memory.write("%s/backups/prod/%s~hourly~application~ok.json" % (LAYOUT, late.name), encode(late))
    # Strays the listings skip: a temp file of the agent's, a foreign file, a stray folder.
    memory.write("%s/backups/prod/.%s~hourly~application~ok.json.0123.tmp" % (LAYOUT, late.name), "{}")
    memory.write("%s/backups/prod/notes.txt" % LAYOUT, "hello")
    memory.write("%s/backups/prod/old/%s~hourly~application~ok.json" % (LAYOUT, backup_name("prod", T0)), "{}")
    copy_into_the_lab(memory, world)
    client = Weighing(psrp)
    repository = HostRepository(client, SNAPINFO)
    on_host = Catalog(repository)

    assert sorted(repository.list("smhv", recurse=True)) == sorted(memory.list("smhv", recurse=True))
    assert repository.list(LAYOUT + "/backups/prod", prefix="PROD_03-14") == memory.list(LAYOUT + "/backups/prod", prefix="PROD_03-14")
    since, until = T0 + datetime.timedelta(hours=5), T0 + datetime.timedelta(hours=20)
    for filters in ({}, {"dataset": "prod"}, {"dataset": "dev-2"}, {"since": since, "until": until}, {"status": "failed"},
                    {"retention_tag": "daily", "backup_type": "crash"}, {"vm_id": "id-a"}, {"vm_id": "id-c"},
                    {"vm_id": "id-b", "since": since, "until": until}, {"dataset": "x", "vm_id": "id-a"}, {"vm_id": "id-nobody"}):
        expected = in_memory.list_backups(**filters)
        assert on_host.list_backups(**filters) == expected, filters
    assert in_memory.list_backups(vm_id="id-c")[-1].name == late.name
    assert len(in_memory.list_backups()) == 91 and len(in_memory.list_backups(dataset="x", vm_id="id-a")) == 29
    assert client.calls.count("file_list") >= 13 and set(client.calls) == {"file_list", "file_read"}


def test_listing_10000_backups_is_one_call_of_a_few_messages_and_kilobytes(psrp, world):
    """Issue #6: 10,000 backup records list in well under 1 s through the lab. Seconds flake on a shared machine; what
    made the time is deterministic: one file_list, whose names-only gzip answer fits one WinRM message (the
    per-entry JSON of the same listing was 1.8 MB in six messages)."""
    memory = MemoryRepository()
    catalog = Catalog(memory)
    catalog.initialize(SCOPE)
    for number in range(10):
        for hour in range(1000):
            name = backup_name("ds%02d" % number, T0 + datetime.timedelta(hours=hour))
            status = "failed" if hour % 50 == 49 else "ok"
            memory.write("%s/backups/ds%02d/%s~hourly~application~%s.json" % (LAYOUT, number, name, status), "{}")
    copy_into_the_lab(memory, world)
    client = Weighing(psrp)
    on_host = Catalog(HostRepository(client, SNAPINFO))
    on_host.scope()  # opens the session, as a module's first call does
    calls = len(client.calls)
    client.result_bytes = 0

    listed = on_host.list_backups()

    assert listed == catalog.list_backups() and len(listed) == 10000
    assert client.calls[calls:] == ["file_list"]
    # Under 64 KB fits one Receive (WinRM's default MaxEnvelopeSize is 500 KB); how many Receives the client sends
    # while the host works depends on the machine's load, so the messages themselves are not counted here.
    assert client.result_bytes < 64 * 1024
    # The same listing in the per-entry format, for the record: what every listing used to carry.
    entries = psrp.call("file_list", {"path": SNAPINFO + "\\smhv\\v1\\backups", "recurse": True, "filter": "*"}).result
    assert len(entries["entries"]) == 10010 and len(json.dumps(entries)) > 25 * client.result_bytes
