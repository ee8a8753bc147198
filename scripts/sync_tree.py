"""Mirror the collection's source files into a directory that ansible-test accepts.

    python scripts/sync_tree.py SRC DEST

ansible-test only runs from a physical .../ansible_collections/<namespace>/<name> directory and
lints every file its source provider lists. This copies exactly the files git would list
(tracked + untracked-but-not-ignored, minus deleted ones) from SRC to DEST, removes files in DEST that
are no longer listed, and gives DEST its own empty git repository so ansible-test's git source
provider lists the same set there (without it, ansible-test would walk up to SRC's repository, which
ignores DEST). Files whose size and mtime are unchanged are not copied again, so a warm sync is fast.
ansible-test's own output (tests/output) in DEST is kept. Without git in SRC (e.g. an unpacked
tarball), every file is taken except virtualenvs, caches and test output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

KEEP_IN_DEST = ('.git', 'tests/output')
# Not collection content: the lab is its own Python package (lab/pyproject.toml) and the benchmarks
# drive it; neither ships in the tarball (galaxy.yml build_ignore). scripts/sanity.sh lints them with
# ruff instead of ansible-test, whose rules are written for plugins.
NOT_COLLECTION = ('lab/', 'benchmarks/')
SKIP_WITHOUT_GIT = ('.git', '.cache', 'tests/output', '__pycache__', '.pytest_cache', '.lab', 'build')


def git_files(src: str) -> list[str] | None:
    def ls(*args: str) -> set[str]:
        out = subprocess.run(['git', '-C', src, 'ls-files', '-z', *args],
                             check=True, capture_output=True).stdout.decode('utf-8', 'surrogateescape')
        return {p for p in out.split('\0') if p}

    try:
        top = subprocess.run(['git', '-C', src, 'rev-parse', '--show-toplevel'],
                             check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    if os.path.realpath(top) != os.path.realpath(src):
        return None  # SRC is a subdirectory of some other repository: not ours to trust
    return sorted(ls('--cached', '--others', '--exclude-standard') - ls('--deleted'))


def walked_files(src: str) -> list[str]:
    paths = []
    for root, dirs, files in os.walk(src):
        rel = os.path.relpath(root, src)
        rel = '' if rel == '.' else rel
        dirs[:] = [d for d in dirs
                   if d not in SKIP_WITHOUT_GIT and not d.startswith('.venv')
                   and os.path.join(rel, d) not in SKIP_WITHOUT_GIT]
        paths.extend(os.path.join(rel, f) for f in files if not f.endswith('.pyc'))
    return sorted(paths)


def same(a: os.stat_result, b: os.stat_result) -> bool:
    return a.st_size == b.st_size and int(a.st_mtime) == int(b.st_mtime) and a.st_mode == b.st_mode


def sync(src: str, dest: str) -> tuple[int, int, int]:
    files = git_files(src)
    if files is None:
        files = walked_files(src)
    files = [f for f in files if not f.startswith(NOT_COLLECTION)]
    wanted = set(files)
    copied = removed = 0

    os.makedirs(dest, exist_ok=True)
    for rel in files:
        s, d = os.path.join(src, rel), os.path.join(dest, rel)
        if not os.path.lexists(s):
            continue
        if os.path.islink(s):
            target = os.readlink(s)
            if os.path.islink(d) and os.readlink(d) == target:
                continue
            if os.path.lexists(d):
                os.remove(d)
            os.makedirs(os.path.dirname(d), exist_ok=True)
            os.symlink(target, d)
            copied += 1
            continue
        if os.path.lexists(d) and not os.path.islink(d) and os.path.isfile(d) and same(os.stat(s), os.stat(d)):
            continue
        if os.path.islink(d) or os.path.isdir(d):
            shutil.rmtree(d) if os.path.isdir(d) and not os.path.islink(d) else os.remove(d)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        shutil.copy2(s, d)
        copied += 1

    for root, dirs, names in os.walk(dest, topdown=True):
        rel_root = os.path.relpath(root, dest)
        rel_root = '' if rel_root == '.' else rel_root
        dirs[:] = [x for x in dirs if os.path.join(rel_root, x) not in KEEP_IN_DEST]
        for name in names + [x for x in dirs if os.path.islink(os.path.join(root, x))]:
            rel = os.path.join(rel_root, name)
            if rel not in wanted:
                os.remove(os.path.join(root, name))
                removed += 1
    # drop directories left empty (bottom-up), but never the kept ones
    for root, dirs, names in os.walk(dest, topdown=False):
        rel_root = os.path.relpath(root, dest)
        if rel_root == '.' or any(rel_root == k or rel_root.startswith(k + os.sep) for k in KEEP_IN_DEST):
            continue
        if not os.listdir(root):
            os.rmdir(root)

    if not os.path.isdir(os.path.join(dest, '.git')):
        subprocess.run(['git', 'init', '-q', dest], check=True)
    return len(files), copied, removed


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    src, dest = (os.path.abspath(p) for p in sys.argv[1:])
    total, copied, removed = sync(src, dest)
    print('sync: %d files in %s (%d copied, %d removed)' % (total, dest, copied, removed))
    return 0


if __name__ == '__main__':
    sys.exit(main())
