"""Durable state: fit metadata in SQLite, arrays and posteriors as files.

SQLite in WAL mode lets HTTP workers, the supervisor and the sampling
processes share one database; each thread of each process opens its own
connection. The ``fits`` table doubles as the job queue: a sampling process
claims a fit by switching it from queued to running with its pid.
"""

import json
import os
import re
import shutil
import sqlite3
import threading
import time
from datetime import datetime, timezone

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
"""


# What a fit is: "regression" (/v1/fits) or "mc_dropout" (/v1/dropout/fits). Added by
# ALTER TABLE so databases written before it keep working; their rows are regressions.
KINDS = ("regression", "mc_dropout")


def _migrate(db):
    columns = {row[1] for row in db.execute("PRAGMA table_info(fits)")}
    if "kind" not in columns:
        try:
            db.execute("ALTER TABLE fits ADD COLUMN kind TEXT NOT NULL DEFAULT 'regression'")
        except sqlite3.OperationalError as exc:  # another process added it meanwhile
            if "duplicate column" not in str(exc):
                raise
    db.execute("CREATE INDEX IF NOT EXISTS fits_kind ON fits(kind, seq)")


class QueueFull(Exception):
    pass


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
            conn.close()
            self._local.conn = None

    def fit_dir(self, fit_id: str) -> str:
        """The directory of one fit; refuses anything that is not a UUID4."""
        if not is_fit_id(fit_id):
            raise ValueError(f"not a fit id: {fit_id!r}")
        return os.path.join(self.data_dir, "fits", fit_id)

    def path(self, fit_id: str, name: str) -> str:
        return os.path.join(self.fit_dir(fit_id), name)

    # -- fits ---------------------------------------------------------------

    def insert(self, fit_id, status, method, request, feature_names, draws_total, max_queue=None,
               result=None, error=None, kind="regression"):
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
                " result, error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (fit_id, kind, status, method, json.dumps(request), json.dumps(feature_names),
                 draws_total, None if result is None else json.dumps(result),
                 None if error is None else json.dumps(error), stamp, stamp))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def get(self, fit_id, kind=None):
        """One fit; with ``kind``, only a fit of that kind (a regression id is no dropout fit)."""
        if kind is None:
            return self.db.execute("SELECT * FROM fits WHERE id = ?", (fit_id,)).fetchone()
        return self.db.execute("SELECT * FROM fits WHERE id = ? AND kind = ?",
                               (fit_id, kind)).fetchone()

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

    def delete(self, fit_id):
        """Remove a fit unless it is running; returns False if it is running."""
        cur = self.db.execute("DELETE FROM fits WHERE id = ? AND status != 'running'", (fit_id,))
        if cur.rowcount == 0:
            return False
        shutil.rmtree(self.fit_dir(fit_id), ignore_errors=True)
        return True

    def finish(self, fit_id, status, result=None, error=None, pid=None, draws_done=None):
        """Record the outcome; a worker only finishes a fit it still owns."""
        sql = ("UPDATE fits SET status = ?, result = ?, error = ?, updated_at = ?,"
               " draws_done = COALESCE(?, draws_done) WHERE id = ?")
        args = [status, json.dumps(result) if result is not None else None,
                json.dumps(error) if error is not None else None, now(), draws_done, fit_id]
        if pid is not None:
            sql += " AND status = 'running' AND worker_pid = ?"
            args.append(pid)
        return self.db.execute(sql, args).rowcount == 1

    # -- queue --------------------------------------------------------------

    def claim(self, pid):
        # A plain read first: in WAL mode it never takes the write lock, so
        # idle workers polling do not make request threads wait on inserts.
        if self.db.execute("SELECT 1 FROM fits WHERE status = 'queued' LIMIT 1").fetchone() is None:
            return None
        row = self.db.execute(
            "UPDATE fits SET status = 'running', worker_pid = ?, updated_at = ?"
            " WHERE seq = (SELECT seq FROM fits WHERE status = 'queued' ORDER BY seq LIMIT 1)"
            " AND status = 'queued' RETURNING id", (pid, now())).fetchone()
        return row["id"] if row else None

    def progress(self, fit_id, done):
        self.db.execute("UPDATE fits SET draws_done = ?, updated_at = ? WHERE id = ?",
                        (done, now(), fit_id))

    def fail_running(self, reason, pid=None):
        """Mark running fits failed: those of one dead worker, or all of them."""
        rows = self.db.execute(
            "SELECT id, worker_pid FROM fits WHERE status = 'running'"
            + (" AND worker_pid = ?" if pid is not None else ""),
            (pid,) if pid is not None else ()).fetchall()
        for row in rows:
            message = reason.format(pid=row["worker_pid"])
            self.finish(row["id"], "failed", error={"message": message, "field": None})
        return [row["id"] for row in rows]

    def counts(self):
        rows = self.db.execute("SELECT status, COUNT(*) AS n FROM fits GROUP BY status").fetchall()
        return {row["status"]: row["n"] for row in rows}

    # -- workers ------------------------------------------------------------

    def heartbeat(self, pid, fit_id=None):
        self.db.execute("INSERT INTO workers (pid, fit_id, heartbeat) VALUES (?, ?, ?)"
                        " ON CONFLICT(pid) DO UPDATE SET fit_id = excluded.fit_id,"
                        " heartbeat = excluded.heartbeat", (pid, fit_id, time.time()))

    def forget_worker(self, pid=None):
        if pid is None:
            self.db.execute("DELETE FROM workers")
        else:
            self.db.execute("DELETE FROM workers WHERE pid = ?", (pid,))

    def workers(self):
        return self.db.execute("SELECT * FROM workers ORDER BY pid").fetchall()
