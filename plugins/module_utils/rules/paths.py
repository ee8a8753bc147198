# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows paths through a `path_map` (smhv_restore's and smhv_failover's option: old access path -> new one).

Access paths are compared as prefixes ending in a separator, so 'J:' and 'J:\\' are one path and 'C:\\Volume1' does not
prefix 'C:\\Volume10'; the longest prefix maps a path, case aside, as Windows compares paths. All functions are pure.
"""

from __future__ import annotations


def with_separator(path):
    return path if path.endswith("\\") else path + "\\"


def path_pairs(path_map):
    """path_map as (old, new) prefixes with a trailing separator, longest first."""
    return sorted(((with_separator(old), with_separator(new)) for old, new in (path_map or {}).items()), key=lambda pair: -len(pair[0]))


def mapped(path, pairs):
    """`path` through `pairs` (path_pairs()): the first, longest, old prefix it starts with replaced by its new one."""
    for old, new in pairs:
        if path.lower().startswith(old.lower()):
            return new + path[len(old):]
    return path
