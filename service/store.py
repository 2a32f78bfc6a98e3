"""Durable state: fit metadata in SQLite, arrays and posteriors as files.

SQLite in WAL mode lets HTTP workers, the supervisor and the sampling
processes share one database; each thread of each process opens its own
connection. The ``fits`` table doubles as the job queue: a sampling process
claims a fit by switching it from queued to running with its pid.
"""

import errno
import functools
import json
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
from datetime import datetime, timezone

__all__ = ["CANCELLED_RUNNING", "DONE", "KINDS", "UUID4", "QueueFull", "StorageError", "Store",
           "is_fit_id", "now", "storage_error"]

# One line per fit state change, with the fit id (stdout under ``bayesreg serve``).
events = logging.getLogger("bayesreg.fits")

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fits (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    status TEXT NOT NULL,
    method TEXT NOT NULL,
    request TEXT NOT NULL,
    feature_names TEXT NOT NULL,
    result TEXT,
    error TEXT,
    draws_done INTEGER NOT NULL DEFAULT 0,
    draws_total INTEGER NOT NULL DEFAULT 0,
    worker_pid INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS fits_status ON fits(status, seq);
CREATE TABLE IF NOT EXISTS workers (
    pid INTEGER PRIMARY KEY,
    fit_id TEXT,
    heartbeat REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pool (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pid INTEGER NOT NULL,
    heartbeat REAL NOT NULL,
    started_at TEXT NOT NULL,
    restarts INTEGER NOT NULL DEFAULT 0,
    last_exit TEXT
);
"""


# What a fit is: "regression" (/v1/fits) or "mc_dropout" (/v1/dropout/fits). Added by
# ALTER TABLE so databases written before it keep working; their rows are regressions.
KINDS = ("regression", "mc_dropout")
# Terminal states: a fit in one of them never changes again (DELETE removes it).
DONE = ("succeeded", "failed", "cancelled")

# Columns added after the first release, by ALTER TABLE, so older databases keep working:
# the kind; when a DELETE asked a running fit to stop (epoch seconds); when a worker claimed
# it (epoch seconds, for the time limit); the SHA-256 of each stored file, to detect damage;
# the sampler's phase ("tuning" or "sampling") at its last progress report.
_ADDED = {
    "kind": "TEXT NOT NULL DEFAULT 'regression'",
    "cancel_requested": "REAL",
    "started": "REAL",
    "checksums": "TEXT",
    "phase": "TEXT",
}


def _migrate(db):
    columns = {row[1] for row in db.execute("PRAGMA table_info(fits)")}
    for name, decl in _ADDED.items():
        if name in columns:
            continue
        try:
            db.execute(f"ALTER TABLE fits ADD COLUMN {name} {decl}")
        except sqlite3.OperationalError as exc:  # another process added it meanwhile
            if "duplicate column" not in str(exc):
                raise
    db.execute("CREATE INDEX IF NOT EXISTS fits_kind ON fits(kind, seq)")


class StorageError(Exception):
    """The data directory refused a write: the disk is full or read-only.

    ``full`` tells the two apart (507 Insufficient Storage vs 503 for a read-only disk).
    """

    def __init__(self, full, detail):
        super().__init__(detail)
        self.full = full
        self.detail = detail


_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_RO_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)


def storage_error(exc):
    """The :class:`StorageError` that ``exc`` means, or None if it is no storage fault."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS + _RO_ERRNOS:
        full = exc.errno in _FULL_ERRNOS
        return StorageError(full, f"{'disk full' if full else 'disk not writable'}: {exc.strerror}")
    if isinstance(exc, sqlite3.Error):
        text = str(exc).lower()
        if "full" in text:
            return StorageError(True, f"disk full: the database says {exc}")
        if "readonly" in text or "read-only" in text or "disk i/o" in text:
            return StorageError(False, f"disk not writable: the database says {exc}")
    return None


def _fresh_on_error(method):
    """Drop this thread's connection when SQLite fails, so the next call opens a new one.

    A connection that saw a full or read-only disk can stay broken after the disk recovers;
    a new connection sees the recovered disk.
    """
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error:
            self.close()
            raise
    return wrapper


class QueueFull(Exception):
    pass


CANCELLED_RUNNING = {"message": "cancelled by a DELETE request while it was running",
                     "field": None}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_fit_id(value: str) -> bool:
    return bool(UUID4.fullmatch(value))


class Store:
    def __init__(self, data_dir):
        self.data_dir = os.path.abspath(data_dir)
        self.db_path = os.path.join(self.data_dir, "bayesreg.sqlite3")
        self._local = threading.local()
        os.makedirs(os.path.join(self.data_dir, "fits"), exist_ok=True)
        self.db.executescript(_SCHEMA)
        _migrate(self.db)

    @property
    def db(self):
        # A connection must not cross a fork or a thread, so key it by both.
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None,
                                   check_same_thread=True)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def close(self):
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass
            self._local.conn = None

    def fit_dir(self, fit_id: str) -> str:
        """The directory of one fit; refuses anything that is not a UUID4."""
        if not is_fit_id(fit_id):
            raise ValueError(f"not a fit id: {fit_id!r}")
        return os.path.join(self.data_dir, "fits", fit_id)

    def path(self, fit_id: str, name: str) -> str:
        return os.path.join(self.fit_dir(fit_id), name)

    # -- fits ---------------------------------------------------------------

    @_fresh_on_error
    def insert(self, fit_id, status, method, request, feature_names, draws_total, max_queue=None,
               result=None, error=None, kind="regression", checksums=None):
        stamp = now()
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            if max_queue is not None:
                (depth,) = db.execute(
                    "SELECT COUNT(*) FROM fits WHERE status IN ('queued', 'running')").fetchone()
                if depth >= max_queue:
                    raise QueueFull(depth)
            db.execute(
                "INSERT INTO fits (id, kind, status, method, request, feature_names, draws_total,"
                " result, error, checksums, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (fit_id, kind, status, method, json.dumps(request), json.dumps(feature_names),
                 draws_total, None if result is None else json.dumps(result),
                 None if error is None else json.dumps(error),
                 None if checksums is None else json.dumps(checksums), stamp, stamp))
            db.execute("COMMIT")
            events.info("fit %s %s (%s, %s)", fit_id, status, kind, method)
        except BaseException:
            if db.in_transaction:  # SQLite rolls back by itself when COMMIT hits a full disk
                db.execute("ROLLBACK")
            raise

    @_fresh_on_error
    def get(self, fit_id, kind=None):
        """One fit; with ``kind``, only a fit of that kind (a regression id is no dropout fit)."""
        if kind is None:
            return self.db.execute("SELECT * FROM fits WHERE id = ?", (fit_id,)).fetchone()
        return self.db.execute("SELECT * FROM fits WHERE id = ? AND kind = ?",
                               (fit_id, kind)).fetchone()

    @_fresh_on_error
    def page(self, limit, offset, status=None, kind=None):
        conds, args = [], []
        if status:
            conds.append("status = ?")
            args.append(status)
        if kind:
            conds.append("kind = ?")
            args.append(kind)
        where = ("WHERE " + " AND ".join(conds)) if conds else ""
        rows = self.db.execute(f"SELECT * FROM fits {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
                               (*args, limit, offset)).fetchall()
        (total,) = self.db.execute(f"SELECT COUNT(*) FROM fits {where}", args).fetchone()
        return rows, total

    @_fresh_on_error
    def delete(self, fit_id):
        """Remove a fit unless it is running; returns False if it is running.

        On a full disk SQLite may need room to record the delete: the fit's files go first
        (they free far more than the database needs) and the delete is tried once more.
        """
        sql = "DELETE FROM fits WHERE id = ? AND status != 'running'"
        try:
            cur = self.db.execute(sql, (fit_id,))
        except sqlite3.OperationalError as exc:
            fault = storage_error(exc)
            if fault is None or not fault.full:
                raise
            self.close()
            row = self.db.execute("SELECT status FROM fits WHERE id = ?", (fit_id,)).fetchone()
            if row is not None and row["status"] == "running":
                return False
            shutil.rmtree(self.fit_dir(fit_id), ignore_errors=True)
            cur = self.db.execute(sql, (fit_id,))
        if cur.rowcount == 0:
            return False
        shutil.rmtree(self.fit_dir(fit_id), ignore_errors=True)
        events.info("fit %s deleted", fit_id)
        return True

    @_fresh_on_error
    def request_cancel(self, fit_id):
        """Ask the worker running ``fit_id`` to stop; True if the fit is running.

        The worker polls for the request and ends the fit as ``cancelled``; the pool's
        watchdog kills a worker that has not stopped within its grace period.
        """
        asked = self.db.execute("UPDATE fits SET cancel_requested = COALESCE(cancel_requested, ?)"
                                " WHERE id = ? AND status = 'running'",
                                (time.time(), fit_id)).rowcount == 1
        if asked:
            events.info("fit %s cancel requested", fit_id)
        return asked

    @_fresh_on_error
    def cancel_requested(self, fit_id):
        row = self.db.execute("SELECT cancel_requested FROM fits WHERE id = ?",
                              (fit_id,)).fetchone()
        return row is None or row["cancel_requested"] is not None

    @_fresh_on_error
    def finish(self, fit_id, status, result=None, error=None, pid=None, draws_done=None,
               checksums=None, where=None):
        """Record the outcome; a worker only finishes a fit it still owns."""
        sql = ("UPDATE fits SET status = ?, result = ?, error = ?, updated_at = ?,"
               " draws_done = COALESCE(?, draws_done), checksums = COALESCE(?, checksums)"
               " WHERE id = ?")
        args = [status, json.dumps(result) if result is not None else None,
                json.dumps(error) if error is not None else None, now(), draws_done,
                None if checksums is None else json.dumps(checksums), fit_id]
        if pid is not None:
            sql += " AND status = 'running' AND worker_pid = ?"
            args.append(pid)
        if where is not None:
            sql += f" AND {where}"
        done = self.db.execute(sql, args).rowcount == 1
        if done:
            reason = f": {error['message']}" if error else ""
            events.info("fit %s %s%s", fit_id, status, reason)
        return done

    @_fresh_on_error
    def finish_succeeded(self, fit_id, result, pid, draws_done, checksums):
        """Record a worker's success, unless a DELETE asked the fit to stop meanwhile: then
        it ends cancelled, as the DELETE's 202 said. Returns the status recorded, or None."""
        if self.finish(fit_id, "cancelled", error=CANCELLED_RUNNING, pid=pid,
                       where="cancel_requested IS NOT NULL"):
            return "cancelled"
        if self.finish(fit_id, "succeeded", result=result, pid=pid, draws_done=draws_done,
                       checksums=checksums):
            return "succeeded"
        return None

    @_fresh_on_error
    def mark_damaged(self, fit_id, message):
        """A succeeded fit whose files no longer match their checksums becomes failed."""
        error = {"message": message, "field": None}
        done = self.db.execute("UPDATE fits SET status = 'failed', error = ?, updated_at = ?"
                               " WHERE id = ? AND status = 'succeeded'",
                               (json.dumps(error), now(), fit_id)).rowcount == 1
        if done:
            events.info("fit %s failed: %s", fit_id, message)
        return done

    # -- queue --------------------------------------------------------------

    @_fresh_on_error
    def claim(self, pid):
        # A plain read first: in WAL mode it never takes the write lock, so
        # idle workers polling do not make request threads wait on inserts.
        if self.db.execute("SELECT 1 FROM fits WHERE status = 'queued' LIMIT 1").fetchone() is None:
            return None
        row = self.db.execute(
            "UPDATE fits SET status = 'running', worker_pid = ?, updated_at = ?, started = ?"
            " WHERE seq = (SELECT seq FROM fits WHERE status = 'queued' ORDER BY seq LIMIT 1)"
            " AND status = 'queued' RETURNING id", (pid, now(), time.time())).fetchone()
        if row:
            events.info("fit %s running (sampler %d)", row["id"], pid)
        return row["id"] if row else None

    @_fresh_on_error
    def progress(self, fit_id, done, phase=None):
        self.db.execute("UPDATE fits SET draws_done = ?, phase = COALESCE(?, phase),"
                        " updated_at = ? WHERE id = ?", (done, phase, now(), fit_id))

    @_fresh_on_error
    def fail_running(self, reason, pid=None, keep=()):
        """Mark running fits failed: those of one dead worker, or all but those of ``keep``
        (pids of workers still alive). A fit whose DELETE asked it to stop ends cancelled."""
        rows = self.db.execute(
            "SELECT id, worker_pid, cancel_requested FROM fits WHERE status = 'running'"
            + (" AND worker_pid = ?" if pid is not None else ""),
            (pid,) if pid is not None else ()).fetchall()
        ended = []
        for row in rows:
            if row["worker_pid"] in keep:
                continue
            if row["cancel_requested"] is not None:
                self.finish(row["id"], "cancelled", error=CANCELLED_RUNNING,
                            where="status = 'running'")
            else:
                message = reason.format(pid=row["worker_pid"])
                self.finish(row["id"], "failed", error={"message": message, "field": None},
                            where="status = 'running'")
            ended.append(row["id"])
        return ended

    @_fresh_on_error
    def running(self):
        """Running fits: id, worker pid, when claimed and when a cancel was asked."""
        return self.db.execute("SELECT id, worker_pid, started, cancel_requested, request"
                               " FROM fits WHERE status = 'running'").fetchall()

    @_fresh_on_error
    def known_ids(self):
        return {row["id"] for row in self.db.execute("SELECT id FROM fits")}

    @_fresh_on_error
    def counts(self):
        rows = self.db.execute("SELECT status, COUNT(*) AS n FROM fits GROUP BY status").fetchall()
        return {row["status"]: row["n"] for row in rows}

    # -- workers ------------------------------------------------------------

    @_fresh_on_error
    def heartbeat(self, pid, fit_id=None):
        self.db.execute("INSERT INTO workers (pid, fit_id, heartbeat) VALUES (?, ?, ?)"
                        " ON CONFLICT(pid) DO UPDATE SET fit_id = excluded.fit_id,"
                        " heartbeat = excluded.heartbeat", (pid, fit_id, time.time()))

    @_fresh_on_error
    def forget_worker(self, pid=None):
        if pid is None:
            self.db.execute("DELETE FROM workers")
        else:
            self.db.execute("DELETE FROM workers WHERE pid = ?", (pid,))

    @_fresh_on_error
    def workers(self):
        return self.db.execute("SELECT * FROM workers ORDER BY pid").fetchall()

    # -- the pool's supervisor ----------------------------------------------

    @_fresh_on_error
    def pool_started(self, pid, restarts=0, last_exit=None):
        self.db.execute("INSERT INTO pool (id, pid, heartbeat, started_at, restarts, last_exit)"
                        " VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
                        " pid = excluded.pid, heartbeat = excluded.heartbeat,"
                        " started_at = excluded.started_at, restarts = excluded.restarts,"
                        " last_exit = excluded.last_exit",
                        (pid, time.time(), now(), restarts, last_exit))

    @_fresh_on_error
    def pool_beat(self, pid):
        self.db.execute("UPDATE pool SET heartbeat = ? WHERE id = 1 AND pid = ?",
                        (time.time(), pid))

    @_fresh_on_error
    def pool(self):
        return self.db.execute("SELECT * FROM pool WHERE id = 1").fetchone()
