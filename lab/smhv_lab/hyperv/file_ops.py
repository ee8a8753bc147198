"""path_info and the file ops over the world (Get-SmhvPathInfo, Read-/Write-/Remove-SmhvFile,
Get-SmhvFileList in the agent). Paths resolve through the host's disks to LUN file trees."""
from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import re
from typing import Any

from ..world.windows import access_key
from .context import AgentFailure, OpContext, argument, assert_absolute, encoding_argument
from .storage_view import path_storage

_ROOT = re.compile(r"^[A-Za-z]:\\?$")
# Every NTFS volume has it, hidden and system: Get-ChildItem -Force lists it, and only SYSTEM may read it.
SYSTEM_FOLDER = "System Volume Information"
_UTF8_BOM = b"\xef\xbb\xbf"


def _locate(ctx: OpContext, path: str):
    """(tree, inner path) or None when the drive or share does not exist here."""
    if path.startswith("\\\\"):
        return None  # no SMB shares in the lab
    try:
        tree, inner, _ = ctx.host.resolve(ctx.world, path)
    except FileNotFoundError:
        return None
    return tree, inner


def _file_bytes(ctx: OpContext, path: str) -> bytes | None:
    """The content of the file at `path`, None when no file is there ([System.IO.File]::Exists, then a read).

    One lookup: FileTree.is_dir scans every file of the volume, which made file_read of 169 records on a
    10,000-file SnapInfo LUN take 1.6 s; NTFS answers from one directory entry."""
    located = _locate(ctx, path)
    if not located or located[1] == "":
        return None
    try:
        return located[0].read(located[1])  # a dict lookup; the bytes are shared, not copied
    except KeyError:
        return None


def _is_dir(ctx: OpContext, path: str) -> bool:
    located = _locate(ctx, path)
    return bool(located) and located[0].is_dir(located[1])


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _split(path: str) -> tuple[str | None, str]:
    """[IO.Path]::GetDirectoryName and GetFileName."""
    path = path.replace("/", "\\")
    if _ROOT.match(path):
        return None, ""
    head, _, tail = path.rpartition("\\")
    if re.fullmatch(r"[A-Za-z]:", head):
        head += "\\"
    return head, tail


def path_info(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    records = []
    for path in argument(args, "paths", "StringList", required=True):
        assert_absolute(path, "paths")
        located = _locate(ctx, path)
        records.append({"path": path, "exists": bool(located) and located[0].exists(located[1]),
                        "is_directory": _is_dir(ctx, path), "storage": path_storage(ctx.world, ctx.host, path)})
    return {"paths": records}, False


def file_read(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    paths = argument(args, "paths", "StringList", required=True)
    encoding = encoding_argument(args)
    missing_ok = argument(args, "missing_ok", "Boolean", False)
    files = []
    for path in paths:
        assert_absolute(path, "paths")
        data = _file_bytes(ctx, path)
        if data is None:
            if not missing_ok:
                raise AgentFailure("FILE_NOT_FOUND", f"File '{path}' does not exist.", {"path": path})
            files.append({"path": path, "exists": False, "size": None, "sha256": None, "content": None})
            continue
        if encoding == "base64":
            content = base64.b64encode(data).decode("ascii")
        else:
            content = (data[3:] if data.startswith(_UTF8_BOM) else data).decode("utf-8", errors="replace")
        files.append({"path": path, "exists": True, "size": len(data), "sha256": _sha256(data), "content": content})
    return {"files": files, "encoding": encoding}, False


def _write_condition(path: str, current: str | None, expected: str | None, create_only: bool) -> None:
    """Assert-SmhvWriteCondition: a conditional write's condition against the current hash (None: no file)."""
    details = {"path": path, "expected_sha256": expected, "create_only": create_only, "actual_sha256": current}
    if create_only and current is not None:
        raise AgentFailure("WRITE_CONFLICT", f"File '{path}' already exists (create_only).", details)
    if expected is not None and current != expected:
        found = f"sha256 {current}" if current is not None else "no file"
        raise AgentFailure("WRITE_CONFLICT", f"File '{path}' changed underneath: expected sha256 {expected}, found {found}.",
                           details)


def _assert_fence(ctx: OpContext, args: dict[str, Any]) -> None:
    """Assert-SmhvFence: a fenced write or delete acts only while the lease file carries the token, not released."""
    path = argument(args, "fence_path", "String", None)
    token = argument(args, "fence_token", "String", None)
    if path is None and token is None:
        return
    if path is None or token is None:
        raise AgentFailure("BAD_REQUEST", "Arguments 'fence_path' and 'fence_token' go together.", {"argument": "fence_path"})
    assert_absolute(path, "fence_path")
    data = _file_bytes(ctx, path)
    found, released = None, False
    if data is not None:
        lease = json.loads(data.decode("utf-8-sig"))
        found, released = lease.get("token"), bool(lease.get("released"))
    if found != token or released:
        raise AgentFailure("LEASE_LOST", f"The lease '{path}' is no longer held by this operation (its token is now '{found or ''}'"
                           f"{', released' if released else ''}); nothing was changed.",
                           {"path": path, "token": token, "found_token": found, "released": released})


def file_write(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Write-SmhvFile. The agent compares and replaces under '<path>.lock'; here the executor runs the
    whole op under the world lock, which gives every writer the same one-step compare-and-replace."""
    path = argument(args, "path", "String", required=True)
    content = argument(args, "content", "String", required=True)
    encoding = encoding_argument(args)
    create_dirs = argument(args, "create_dirs", "Boolean", False)
    expected = argument(args, "expected_sha256", "String", None)
    create_only = argument(args, "create_only", "Boolean", False)
    assert_absolute(path, "path")
    if expected is not None:
        if not re.fullmatch(r"[0-9A-Fa-f]{64}", expected):
            raise AgentFailure("BAD_REQUEST", "Argument 'expected_sha256' must be 64 hexadecimal digits.",
                               {"argument": "expected_sha256"})
        if create_only:
            raise AgentFailure("BAD_REQUEST", "Arguments 'expected_sha256' and 'create_only' exclude each other.",
                               {"argument": "create_only"})
        expected = expected.lower()
    if encoding == "base64":
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise AgentFailure("BAD_REQUEST", "Argument 'content' is not valid base64.", {"argument": "content"}) from None
    else:
        data = content.encode("utf-8", errors="surrogatepass")
    result = {"path": path, "size": len(data), "sha256": _sha256(data), "previous_sha256": None}
    directory, name = _split(path)
    if not directory or not name:
        raise AgentFailure("BAD_REQUEST", f"Argument 'path': '{path}' does not name a file.",
                           {"argument": "path", "path": path})
    directory_exists = _is_dir(ctx, directory)
    if not directory_exists and not create_dirs:
        raise AgentFailure("PATH_NOT_FOUND", f"Directory '{directory}' does not exist (set create_dirs to create it).",
                           {"path": path, "directory": directory})
    existing = _file_bytes(ctx, path)
    current = _sha256(existing) if existing is not None else None
    _write_condition(path, current, expected, create_only)
    _assert_fence(ctx, args)
    result["previous_sha256"] = current
    if current == result["sha256"]:
        return result, False
    if ctx.check_mode:
        return result, True
    if _locate(ctx, directory) is None:
        raise FileNotFoundError(f"Could not find a part of the path '{path}'.")
    ctx.host.write_file(ctx.world, path, data)  # one step under the world lock: as atomic as the rename
    return result, True


def _wildcard(pattern: str) -> re.Pattern:
    """Get-ChildItem -Filter: '*' any run, '?' one character, case-insensitive, nothing else special."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern),
                      re.IGNORECASE | re.DOTALL)


def _encode_names(names: list[str], list_format: str) -> str:
    """Get-SmhvFileList's `names`: the lines joined by LF; for names_gzip, gzip (GZipStream) of the UTF-8 text, in base64."""
    text = "\n".join(names)
    if list_format == "names":
        return text
    # GZipStream's default (CompressionLevel.Optimal) is zlib's level 6, not Python's 9.
    return base64.b64encode(gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0)).decode("ascii")


def file_list(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    path = argument(args, "path", "String", required=True)
    recurse = argument(args, "recurse", "Boolean", False)
    pattern = _wildcard(argument(args, "filter", "String", "*"))
    list_format = argument(args, "format", "String", "entries")
    if list_format not in ctx.agent.FILE_LIST_FORMATS:
        raise AgentFailure("BAD_REQUEST", "Argument 'format' must be %s." % " or ".join("'%s'" % f for f in ctx.agent.FILE_LIST_FORMATS),
                           {"argument": "format"})
    assert_absolute(path, "path")
    result: dict[str, Any] = {"path": path, "exists": False, "format": list_format, "entries": [], "names": None}
    if not _is_dir(ctx, path):
        if list_format != "entries":
            result["names"] = _encode_names([], list_format)
        return result, False
    tree, inner = _locate(ctx, path)
    found: dict[str, tuple[str, str, bool, str]] = {}  # upper-cased relative path -> (relative path, name, is_directory, file)
    if inner == "" and ctx.host.online_disk_for(path) is not None:  # a LUN's NTFS volume root: its system folder
        system = path.rstrip("\\") + "\\" + SYSTEM_FOLDER
        if recurse:  # Get-ChildItem -Recurse -Force with ErrorAction Stop, as an administrator
            raise AgentFailure("AGENT_ERROR", f"Access to the path '{system}' is denied.",
                               {"op": "file_list", "exception_type": "System.UnauthorizedAccessException", "line": None, "command": None})
        if pattern.fullmatch(SYSTEM_FOLDER):
            found[SYSTEM_FOLDER.upper()] = (SYSTEM_FOLDER, SYSTEM_FOLDER, True, "")
    skip = len(inner) + 1 if inner else 0
    for name in tree.listing(inner):
        relative = name[skip:]
        parts = relative.split("\\")
        # The directories on the way (once each), then the file itself when the listing reaches its depth.
        for level in range(len(parts) - 1 if recurse else min(1, len(parts) - 1)):
            directory = "\\".join(parts[:level + 1])
            key = directory.upper()
            if key not in found and pattern.fullmatch(parts[level]):
                found[key] = (directory, parts[level], True, name)
        if (recurse or len(parts) == 1) and pattern.fullmatch(parts[-1]):
            found[relative.upper()] = (relative, parts[-1], False, name)
    # Ordinal order of the upper-cased paths, as the agent sorts; the listed path is every entry's common prefix.
    ordered = [found[key] for key in sorted(found)]
    result["exists"] = True
    if list_format == "entries":
        base = path.rstrip("\\") + "\\"
        result["entries"] = [{"path": base + relative, "name": leaf, "is_directory": is_directory,
                              "size": None if is_directory else len(tree.read(file))}
                             for relative, leaf, is_directory, file in ordered]
    else:
        result["names"] = _encode_names([relative + "\\" if is_directory else relative
                                         for relative, _leaf, is_directory, _file in ordered], list_format)
    return result, False


def _made_folders(ctx: OpContext, path: str, recurse: bool) -> list[str]:
    """The entries of WindowsHost.folders (empty folders disk_connect made on C:) that deleting `path` removes:
    itself and, with recurse, the folders under it. A folder with a volume mounted on it, or with files or
    folders in it (without recurse), is not empty: DIRECTORY_NOT_EMPTY as on Windows."""
    key = access_key(path)
    folders = getattr(ctx.host, "folders", set())
    if ctx.host.online_disk_for(path) is not None or key not in {access_key(folder) for folder in folders}:
        return []
    below = [folder for folder in folders if access_key(folder).startswith(key + "\\")]
    mounted = any(access_key(access).startswith(key + "\\") for disk in ctx.host.disks.values() if disk.online
                  for access in disk.access_paths)
    if mounted or ctx.host.file_exists(ctx.world, path) or (below and not recurse):
        raise AgentFailure("DIRECTORY_NOT_EMPTY", f"Directory '{path}' is not empty (set recurse to delete it with its "
                           "content).", {"path": path})
    return [folder for folder in folders if access_key(folder) == key] + below


def file_delete(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    paths = argument(args, "paths", "StringList", required=True)
    recurse = argument(args, "recurse", "Boolean", False)
    _assert_fence(ctx, args)
    deleted, missing = [], []
    for path in paths:
        assert_absolute(path, "paths")
        doomed = _made_folders(ctx, path, recurse)
        if doomed:  # folders disk_connect made, no volume mounted on them any more
            if not ctx.check_mode:
                ctx.host.folders.difference_update(doomed)
            deleted.append(path)
            continue
        located = _locate(ctx, path)
        if not located or not located[0].exists(located[1]):
            missing.append(path)
            continue
        tree, inner = located
        # The lab's directories exist through their files, so a directory always has content.
        if tree.is_dir(inner) and not recurse:
            raise AgentFailure("DIRECTORY_NOT_EMPTY", f"Directory '{path}' is not empty (set recurse to delete it "
                               "with its content).", {"path": path})
        if not ctx.check_mode:
            disk = ctx.host.online_disk_for(path)
            if disk is not None and disk.read_only:
                raise PermissionError(f"The media is write protected: '{path}'.")
            tree.delete(inner)
        deleted.append(path)
    return {"deleted": deleted, "missing": missing}, bool(deleted)
