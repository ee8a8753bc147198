"""What a LUN carries: a partition table and one NTFS volume holding a case-insensitive file tree.

The ONTAP side copies these objects (snapshot, clone, SnapRestore, SnapMirror transfer) and the
Windows side reads and writes them through a connected disk, so both sides agree on the bytes.
Copies are cheap: file contents are immutable `bytes` shared between copies.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field


def normalize(path: str) -> str:
    """Windows path relative to a volume root: backslashes, no leading/trailing separators."""
    return "\\".join(part for part in path.replace("/", "\\").split("\\") if part and part != ".")


class FileTree:
    """A volume's files: case-insensitive lookup, original case kept for listings."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self._files: dict[str, tuple[str, bytes]] = {}
        for path, data in (files or {}).items():
            self.write(path, data)

    def copy(self) -> "FileTree":
        clone = FileTree()
        clone._files = dict(self._files)
        return clone

    def write(self, path: str, data: bytes) -> None:
        name = normalize(path)
        if not name:
            raise ValueError("a file needs a name")
        self._files[name.lower()] = (name, bytes(data))

    def read(self, path: str) -> bytes:
        return self._files[normalize(path).lower()][1]

    def exists(self, path: str) -> bool:
        key = normalize(path).lower()
        return key in self._files or self.is_dir(path)

    def is_dir(self, path: str) -> bool:
        prefix = normalize(path).lower()
        if not prefix:
            return True
        return any(k.startswith(prefix + "\\") for k in self._files)

    def delete(self, path: str) -> bool:
        """Delete a file, or a directory and everything under it. Returns whether anything went."""
        key = normalize(path).lower()
        doomed = [k for k in self._files if k == key or k.startswith(key + "\\")]
        for k in doomed:
            del self._files[k]
        return bool(doomed)

    def listing(self, under: str = "") -> list[str]:
        """Every file path (original case) under a directory, sorted."""
        prefix = normalize(under).lower()
        return sorted(name for key, (name, _) in self._files.items()
                      if not prefix or key.startswith(prefix + "\\"))

    def size(self) -> int:
        return sum(len(data) for _, data in self._files.values())

    def items(self) -> list[tuple[str, bytes]]:
        return sorted(self._files.values())

    def __len__(self) -> int:
        return len(self._files)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FileTree) and self._files == other._files


@dataclass
class LunContent:
    """The bytes of a LUN as Windows sees them.

    `disk_id` is the GPT disk GUID or the MBR signature: it lives in the LUN's data, so a clone of a
    LUN carries the same id, which is what makes connecting a clone beside its source a duplicate-
    signature problem until the clone is resignatured.
    """

    partition_style: str = "GPT"  # GPT | MBR | RAW (never initialized)
    disk_id: str = field(default_factory=lambda: "{%s}" % str(uuid.uuid4()).upper())
    volume_guid: str = field(default_factory=lambda: "\\\\?\\Volume{%s}\\" % uuid.uuid4())
    label: str = ""
    files: FileTree = field(default_factory=FileTree)

    def copy(self) -> "LunContent":
        return LunContent(self.partition_style, self.disk_id, self.volume_guid, self.label, self.files.copy())

    def resignature(self) -> None:
        """What Windows does to a disk whose id collides with a disk already online."""
        if self.partition_style == "MBR":
            self.disk_id = uuid.uuid4().hex[:8].upper()
        else:
            self.disk_id = "{%s}" % str(uuid.uuid4()).upper()
        self.volume_guid = "\\\\?\\Volume{%s}\\" % uuid.uuid4()
