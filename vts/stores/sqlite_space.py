"""A SQLite store on a disk that fills up.

SQLite checkpoints its write-ahead log once it holds 1000 pages (4 MiB). On a disk
with less free space than that, the WAL took the last free bytes first; the
checkpoint that would have emptied it then needed a few pages of room for the
database file that no longer existed, so every write failed until someone else freed
space, and a restart did not help (the WAL was still there). Here the WAL is
checkpointed once it holds a quarter of the free space, and errors that mean "cannot
write" are told apart from the others.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3

from vts.errors import StoreNotWritableError
from vts.stores.write_health import PROBE_BODY, PROBE_JOB_ID

DEFAULT_AUTOCHECKPOINT = 1000
"""Pages: SQLite's own default, kept while the disk has plenty of room."""
WAL_SHARE = 4
"""The WAL may hold 1/WAL_SHARE of the free space before it is checkpointed."""
HEADROOM = 256 * 1024
"""Bytes that must be free again before writes resume after the disk was full."""

_FULL = 13  # SQLITE_FULL
_READONLY = 8  # SQLITE_READONLY and its extended codes
_IOERR_WRITE = 10 | (3 << 8)  # EDQUOT and EIO land here, not in SQLITE_FULL
_IOERR_SHMSIZE = 10 | (19 << 8)  # no room for the -shm file: a full disk


class DiskSpace:
    """Free space on the file system holding one database file."""

    def __init__(self, path: str) -> None:
        self.path = path
        in_memory = path == ":memory:" or path.startswith("file::memory:")
        self._directory = None if in_memory else os.path.dirname(os.path.realpath(path))

    def free(self) -> int | None:
        """Bytes an unprivileged writer may still use; None if unknown."""
        if self._directory is None or not hasattr(os, "statvfs"):
            return None
        try:
            stat = os.statvfs(self._directory)
        except OSError:
            return None
        if stat.f_blocks == 0:  # a file system that reports no sizes
            return None
        return stat.f_bavail * stat.f_frsize

    def has_room(self) -> bool:
        free = self.free()
        return free is None or free >= HEADROOM

    def nearly_full(self) -> StoreNotWritableError | None:
        """The error to report if there is less than HEADROOM free right now."""
        free = self.free()
        if free is None or free >= HEADROOM:
            return None
        return StoreNotWritableError(
            f"the disk holding {self.path} is full ({free // 1024} KiB free; "
            f"writes resume from {HEADROOM // 1024} KiB)"
        )


class WalBudget:
    """Keeps the WAL to a share of the free space (on the writer thread)."""

    def __init__(self, space: DiskSpace) -> None:
        self._space = space
        self._page_size = 0
        self._pages = DEFAULT_AUTOCHECKPOINT

    def fit(self, conn: sqlite3.Connection) -> None:
        """Before a write: checkpoint after no more pages than the disk can spare."""
        free = self._space.free()
        if free is None:
            return
        if not self._page_size:
            self._page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        pages = max(
            1, min(DEFAULT_AUTOCHECKPOINT, free // self._page_size // WAL_SHARE)
        )
        if pages != self._pages:
            conn.execute(f"PRAGMA wal_autocheckpoint={pages}")
            self._pages = pages


def not_writable(exc: sqlite3.Error, path: str) -> StoreNotWritableError | None:
    """The not-writable error `exc` means, if it means one."""
    code = getattr(exc, "sqlite_errorcode", 0)
    if code & 0xFF == _FULL or code == _IOERR_SHMSIZE:
        return StoreNotWritableError(f"the disk holding {path} is full ({exc})")
    if code & 0xFF == _READONLY:
        return StoreNotWritableError(f"{path} is read-only ({exc})")
    if code == _IOERR_WRITE:
        return StoreNotWritableError(f"cannot write to {path} ({exc})")
    return None


def probe(conn: sqlite3.Connection) -> None:
    """Write a job-sized row into the jobs table and delete it in the same
    transaction: the pages a new job needs are written, and nobody ever sees it
    (on the writer thread). A no-op UPDATE would not do: SQLite skips a row that
    did not change."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "INSERT INTO jobs (job_id, status, version, body) VALUES (?, 'probe', 0, ?)",
            (PROBE_JOB_ID, PROBE_BODY),
        )
        conn.execute("DELETE FROM jobs WHERE job_id = ?", (PROBE_JOB_ID,))
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(Exception):
            conn.execute("ROLLBACK")
        raise
