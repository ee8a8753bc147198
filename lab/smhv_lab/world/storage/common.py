"""What every ONTAP resource family shares: ONTAP's error codes, `OntapError`, ids and clocks."""
from __future__ import annotations

import datetime
import secrets
import string
import uuid as uuidlib

# ONTAP error codes (see shared/reference/ontap-rest.md section 4). Codes the reference marks as
# unverified (duplicate names, snapshot limit, no common snapshot) use the generic ones.
ENTRY_NOT_FOUND = 4
DUPLICATE_ENTRY = 1
INVALID_VALUE = 2
SNAPSHOT_BUSY = 1638555
RW_VOLUMES_ONLY = 1638521
VOLUME_BUSY = 524486
LUN_MAP_EXISTS = 5374922
CG_SNAPSHOT_EXISTS = 53411921
DP_NOT_INITIALIZED = 917536
TRANSFER_IN_PROGRESS = 13303812
BREAK_DURING_TRANSFER = 13303808

SERIAL_ALPHABET = string.ascii_letters + string.digits


class OntapError(Exception):
    """An ONTAP failure: `code` is ONTAP's error code, `status` the HTTP status when it is not a job."""

    def __init__(self, message: str, code: int, status: int = 400, target: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.target = target


def not_found(what: str, target: str = "uuid") -> OntapError:
    return OntapError(f"entry doesn't exist: {what}", ENTRY_NOT_FOUND, status=404, target=target)


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).astimezone()


def new_uuid() -> str:
    return str(uuidlib.uuid4())


def new_serial() -> str:
    # Random alphanumerics: 62**12 values keeps serials unique across every cluster of a lab.
    return "".join(secrets.choice(SERIAL_ALPHABET) for _ in range(12))


def parse_version(version: str) -> tuple[int, int, int]:
    parts = [int(p) for p in version.split(".")]
    return tuple((parts + [0, 0, 0])[:3])  # type: ignore[return-value]
