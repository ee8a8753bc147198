"""HostRepository over a scripted HostClient: agent ops and arguments, batching, and refusing blind CAS writes."""
from __future__ import annotations

import base64
import gzip

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import (
    READ_BATCH, Entry, HostRepository, WriteConflict, decode_file_names, sha256_of)
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import AgentReply

ROOT = "C:\\ClusterStorage\\Volume9\\SnapInfo"


class ScriptedHost:
    """Answers file ops from a dict of Windows paths, checking each reply against the agent's schema."""

    name = "hv01"

    def __init__(self, files=None):
        self.files = dict(files or {})
        self.calls = []

    def call(self, op, args=None, check_mode=False, timeout=None, retry_safe=None):
        self.calls.append((op, args, retry_safe))
        result = getattr(self, op)(args)
        assert agent.validate_result(op, result) == []
        return AgentReply(result, changed=op in ("file_write", "file_delete"))

    def file_read(self, args):
        files = [{"path": p, "exists": p in self.files, "size": len(self.files[p]) if p in self.files else None,
                  "sha256": sha256_of(self.files[p]) if p in self.files else None, "content": self.files.get(p)} for p in args["paths"]]
        return {"files": files, "encoding": "utf-8"}

    def file_write(self, args):
        # The agent's conditions: create_only, or expected_sha256 against the current content.
        previous = sha256_of(self.files[args["path"]]) if args["path"] in self.files else None
        if (args.get("create_only") and previous is not None) or \
                (args.get("expected_sha256") is not None and args["expected_sha256"] != previous):
            raise SmhvError("WRITE_CONFLICT", "changed underneath", {"actual_sha256": previous})
        self.files[args["path"]] = args["content"]
        return {"path": args["path"], "size": len(args["content"]), "sha256": sha256_of(args["content"]), "previous_sha256": previous}

    def file_list(self, args):
        prefix = args["path"] + "\\"
        pattern = args["filter"].rstrip("*").upper()
        entries = [{"path": p, "name": p.rsplit("\\", 1)[1], "is_directory": False, "size": 1} for p in sorted(self.files)
                   if p.startswith(prefix) and (args["recurse"] or "\\" not in p[len(prefix):])
                   and p.rsplit("\\", 1)[1].upper().startswith(pattern)]
        list_format = args.get("format", "entries")
        if list_format == "entries":
            return {"path": args["path"], "exists": True, "format": list_format, "entries": entries, "names": None}
        return {"path": args["path"], "exists": True, "format": list_format, "entries": [],
                "names": names_text([entry["path"][len(prefix):] for entry in entries], list_format)}

    def file_delete(self, args):
        deleted = [p for p in args["paths"] if self.files.pop(p, None) is not None]
        return {"deleted": deleted, "missing": [p for p in args["paths"] if p not in deleted]}


def test_reads_are_batched_and_missing_files_are_none():
    host = ScriptedHost({ROOT + "\\smhv\\v1\\backups\\prod\\b%04d.json" % n: "{}" for n in range(1200)})
    repository = HostRepository(host, ROOT + "\\")
    paths = ["smhv/v1/backups/prod/b%04d.json" % n for n in range(1200)] + ["smhv/v1/backups/prod/gone.json"]
    found = repository.read(paths)
    assert [call[0] for call in host.calls] == ["file_read"] * 3 and len(host.calls[0][1]["paths"]) == READ_BATCH
    assert host.calls[0][1]["missing_ok"] is True
    assert found["smhv/v1/backups/prod/b0000.json"].sha256 == sha256_of("{}") and found["smhv/v1/backups/prod/gone.json"] is None


def names_text(lines, list_format):
    """file_list's `names` as the agent writes them (ConvertTo-SmhvNameList)."""
    text = "\n".join(lines)
    return text if list_format == "names" else base64.b64encode(gzip.compress(text.encode("utf-8"), mtime=0)).decode("ascii")


def test_list_maps_windows_paths_back_and_rechecks_the_prefix():
    host = ScriptedHost({ROOT + "\\smhv\\v1\\backups\\prod\\prod_1~x.json": "{}", ROOT + "\\smhv\\v1\\backups\\prod\\PROD_2~x.json": "{}"})
    repository = HostRepository(host, ROOT)
    entries = repository.list("smhv/v1/backups/prod", prefix="prod_1~")
    assert [(e.path, e.name) for e in entries] == [("smhv/v1/backups/prod/prod_1~x.json", "prod_1~x.json")]
    assert host.calls[0][1] == {"path": ROOT + "\\smhv\\v1\\backups\\prod", "recurse": False, "filter": "prod_1~*", "format": "names_gzip"}


@pytest.mark.parametrize("list_format", ["names", "names_gzip"])
def test_list_reads_names_with_directories_and_unicode(list_format):
    host = ScriptedHost()
    lines = ["a.json", "sub\\", "sub\\b~\u00e9\u4e2d.json", "sub\\deeper\\"]
    host.file_list = lambda args: {"path": args["path"], "exists": True, "format": list_format, "entries": [],
                                   "names": names_text(lines, list_format)}
    entries = HostRepository(host, ROOT + "\\").list("smhv/v1", recurse=True)
    assert entries == [Entry("smhv/v1/a.json", "a.json", False), Entry("smhv/v1/sub", "sub", True),
                       Entry("smhv/v1/sub/b~\u00e9\u4e2d.json", "b~\u00e9\u4e2d.json", False), Entry("smhv/v1/sub/deeper", "deeper", True)]
    # The prefix selects by name at every depth, as Get-ChildItem -Filter does.
    assert HostRepository(host, ROOT).list("", recurse=True, prefix="SUB") == [Entry("sub", "sub", True)]
    host.file_list = lambda args: {"path": args["path"], "exists": False, "format": list_format, "entries": [],
                                   "names": names_text([], list_format)}
    assert HostRepository(host, ROOT).list("smhv/v1/backups/gone") == []


@pytest.mark.parametrize("names, reason", [
    ("..\\x.json", "not a path inside"),
    ("a.json\n\nb.json", "not a path inside"),
    ("\\\\server\\x.json", "not a path inside"),
    ("sub\\\\x.json", "not a path inside"),
    ("ok.json\nsub\\.\\x.json", "not a path inside"),
    ("ok.json\nsub\\..\\", "not a path inside"),
    ("C:\\x.json", "not a path inside"),
    ("a.json\n", "not a path inside"),
    ("\\", "not a path inside"),
    ("H4sI not base64!", "do not decode"),
    (base64.b64encode(b"not gzip").decode("ascii"), "do not decode"),
    (base64.b64encode(gzip.compress(b"\xff\xfe", mtime=0)).decode("ascii"), "do not decode"),
])
def test_decode_file_names_refuses_what_the_agent_never_writes(names, reason):
    list_format = "names" if reason == "not a path inside" else "names_gzip"
    with pytest.raises(ValueError, match=reason):
        decode_file_names({"format": list_format, "names": names})


def test_list_sends_the_match_as_the_filter_and_rechecks_it():
    """Windows also matches a filter against 8.3 short names, so the agent may list a name the wildcard does not fit."""
    host = ScriptedHost()
    names = ["prod\\", "prod\\prod_03-17-2026_09.00.00~hourly~application~ok.json", "prod\\PROD_0~1.JSO"]
    host.file_list = lambda args: {"path": args["path"], "exists": True, "format": args["format"], "entries": [],
                                   "names": names_text(names, args["format"])}
    entries = HostRepository(host, ROOT).list("smhv/v1/backups", recurse=True, match="*_03-1?-2026*")
    assert [e.name for e in entries] == ["prod_03-17-2026_09.00.00~hourly~application~ok.json"]
    assert host.calls[0][1]["filter"] == "*_03-1?-2026*"
    HostRepository(host, ROOT).list("smhv/v1/backups/prod", prefix="prod_", match="*~ok.json")
    assert host.calls[1][1]["filter"] == "*~ok.json"


def test_decode_file_names_keeps_names_with_dots():
    text = "..json\n.hidden\\\n.hidden\\a..b.json\nx.\\"
    assert decode_file_names({"format": "names", "names": text}) == [
        ("..json", False), (".hidden", True), (".hidden\\a..b.json", False), ("x.", True)]


def test_unreadable_listing_is_a_protocol_error():
    host = ScriptedHost()
    host.file_list = lambda args: {"path": args["path"], "exists": True, "format": args["format"], "entries": [],
                                   "names": names_text(["..\\..\\elsewhere\\x.json"], args["format"])}
    with pytest.raises(SmhvError) as caught:
        HostRepository(host, ROOT).list("smhv")
    assert caught.value.code == "HOST_PROTOCOL_ERROR"
    with pytest.raises(ValueError, match="no names"):
        decode_file_names({"format": "entries", "names": None, "entries": []})


def test_plain_write_and_delete():
    host = ScriptedHost()
    repository = HostRepository(host, ROOT)
    assert repository.write("smhv/v1/journals/j1.json", "{}") == sha256_of("{}")
    assert host.calls[-1] == ("file_write", {"path": ROOT + "\\smhv\\v1\\journals\\j1.json", "content": "{}", "create_dirs": True}, True)
    assert repository.delete(["smhv/v1/journals/j1.json", "smhv/v1/journals/j2.json"]) == ["smhv/v1/journals/j1.json"]
    assert repository.delete([]) == [] and len(host.calls) == 2


def test_conditional_write_sends_the_condition_and_maps_the_conflict():
    host = ScriptedHost()

    def conflicting(args):
        raise SmhvError("WRITE_CONFLICT", "changed underneath", {"actual_sha256": "f" * 64})

    host.file_write = conflicting
    with pytest.raises(WriteConflict) as caught:
        HostRepository(host, ROOT).write("smhv/v1/leases/hvc1.json", "{}", expected_sha256="a" * 64)
    assert caught.value.actual_sha256 == "f" * 64
    op, args, retry_safe = host.calls[0]
    assert args["expected_sha256"] == "a" * 64 and args["create_only"] is False and retry_safe is False


def test_catalog_over_the_host_uses_real_compare_and_swap():
    """With the agent's conditional file_write, a dataset update from a stale read is refused, then retried by update_dataset."""
    from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
    from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import Dataset
    from unit.catalog.factory import SCOPE

    host = ScriptedHost()
    catalog = Catalog(HostRepository(host, ROOT), sleep=lambda seconds: None)
    catalog.initialize(SCOPE)
    created = catalog.put_dataset(Dataset("prod", "first"))
    catalog.update_dataset("prod", lambda d: Dataset(d.name, "second", created=d.created))
    with pytest.raises(WriteConflict):
        catalog.put_dataset(Dataset("prod", "third"), expected_sha256=created.sha256)
    with pytest.raises(SmhvError) as caught:
        catalog.put_dataset(Dataset("prod"))
    assert caught.value.code == "DATASET_EXISTS"
    conditional = [args for op, args, retry in host.calls if op == "file_write" and (args.get("create_only") or args.get("expected_sha256"))]
    assert conditional and all(call[2] is False for call in host.calls if call[0] == "file_write" and call[1] in conditional)
