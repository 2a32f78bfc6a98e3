"""The sampling pool: long-lived worker processes and the supervisor that
watches them.

Workers claim queued fits from SQLite (queued -> running with their pid),
sample, and write the result to disk and DB themselves. They live as long as
the server, with the core's sampler kernel loaded at start. A sampler crash
(segfault, OOM kill) takes down one worker only: the supervisor's watchdog
sees its exit code, fails the fit it held with the reason, and respawns it.

The watchdog also enforces what a worker cannot enforce on itself:
- a worker whose heartbeat (shared memory, written every second by a thread)
  is older than the stall timeout is stopped or hung: it is killed, its fit
  failed with that reason, and it is replaced;
- a fit whose DELETE asked it to stop, or that ran past its time limit, is
  killed once its worker has had a grace period to stop it itself;
- fit directories that no database row owns (a request that failed between
  writing its data and recording it) are removed once they are old enough.
Every pass survives database errors (a full or read-only disk): it logs,
backs off and tries again.

Exactly one supervisor runs per data directory: inside the app process for
``create_app()`` (tests, ``flask run``), or, under ``serve``, as a child of the
service's manager process, which replaces it if it dies (see ``server.py``).
Run it alone with ``python -m service.pool --data-dir DIR --workers N``.
"""

import argparse
import fcntl
import json
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time

from .store import Store, is_fit_id

__all__ = ["DIED", "GONE", "OVERTIME", "STALLED", "STOPPED", "Supervisor", "backoff",
           "collect_orphans", "describe_exit", "fit_time_limit", "main", "pool_lock", "recover",
           "warm_kernel", "worker_main"]


def fit_time_limit(options, server_limit):
    """Seconds a fit may run: its request's ``time_limit``, at most the server's."""
    limits = [t for t in (options.get("time_limit"), server_limit) if t]
    return min(limits) if limits else None

log = logging.getLogger(__name__)

DIED = "worker process {pid} died with {how} while running this fit; the server kept running"
STOPPED = ("the server stopped while this fit was running (worker pid {pid}); "
           "submit it again")
STALLED = ("worker process {pid} stopped responding for {seconds:.0f} s "
           "(BAYESREG_STALL_TIMEOUT) while running this fit and was killed; the server kept running")
OVERTIME = ("the fit ran past its time limit of {limit:g} s (time_limit, at most "
            "BAYESREG_FIT_TIME_LIMIT) and its worker did not stop it within {grace:g} s, so the "
            "worker was killed")
GONE = "worker process {pid} of a previous pool is gone while running this fit"


def describe_exit(code):
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        return f"signal {-code} ({name})"
    if 128 < code < 128 + 65:  # the shell's convention for a handled signal
        try:
            return f"exit code {code} (after {signal.Signals(code - 128).name})"
        except ValueError:
            pass
    return f"exit code {code}"


def backoff(attempt, low=0.05, high=5.0):
    """Seconds to wait before retry ``attempt`` (0, 1, ...) of a failing database call."""
    return min(high, low * 2 ** min(attempt, 16))


def warm_kernel(data_dir):
    """Load the core's sampler kernels (the elastic-net family's and the horseshoes') before
    the first fit, one worker at a time.

    Each kernel compiles once per machine into numba's disk cache. Under the lock, the first
    worker of a fresh machine compiles them and the others wait, then load them from the
    cache: no worker pays a compile that another has paid.
    """
    from bayesreg.model import KERNELS, load_kernel

    with open(os.path.join(data_dir, ".kernel.lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        seconds = sum(load_kernel(name) for name in KERNELS)
    log.info("sampler %d: kernels ready in %.2f s", os.getpid(), seconds)


class _Beat(threading.Thread):
    """A worker's heartbeat: shared memory every second (read by the watchdog, never fails)
    and the ``workers`` row (read by /health), whose failures are logged and retried."""

    def __init__(self, store, pid, shared):
        super().__init__(name="bayesreg-heartbeat", daemon=True)
        self.store, self.pid, self.shared = store, pid, shared
        self.fit_id = None
        self.stop = threading.Event()

    def run(self):
        failures = 0
        while not self.stop.wait(1.0 if not failures else backoff(failures, 1.0)):
            if self.shared is not None:
                self.shared.value = time.monotonic()
            try:
                self.store.heartbeat(self.pid, self.fit_id)
            except Exception as exc:  # a full disk must not end the heartbeat
                if failures == 0:
                    log.warning("sampler %d: heartbeat not recorded (%s); retrying", self.pid, exc)
                failures += 1
            else:
                failures = 0


def worker_main(data_dir, poll, parent_pid, shared=None, time_limit=None, draining=None):
    """Body of one sampling process (spawn context: a fresh interpreter)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's to handle
    if not logging.getLogger().handlers:  # fit state changes to stdout, like the pool's
        logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                            format="%(asctime)s sampler[%(process)d] %(message)s")
    store = Store(data_dir)
    pid = os.getpid()
    if shared is not None:
        shared.value = time.monotonic()
    beat = _Beat(store, pid, shared)
    try:
        store.heartbeat(pid)
    except Exception as exc:
        log.warning("sampler %d: heartbeat not recorded (%s)", pid, exc)
    beat.start()
    import bayesreg.estimator  # noqa: F401  -- pay the import (PyMC, ArviZ) before the first fit

    warm_kernel(data_dir)
    from .jobs import run_claimed

    failures = 0
    # A sampler outlives a dead supervisor only to finish the fit it holds, and claims
    # nothing once a stopping supervisor set ``draining`` (it would be killed mid-fit).
    while os.getppid() == parent_pid and not (draining is not None and draining.is_set()):
        try:
            fit_id = store.claim(pid)
        except Exception as exc:
            if failures == 0:
                log.warning("sampler %d: cannot claim fits (%s); retrying", pid, exc)
            failures += 1
            time.sleep(backoff(failures))
            continue
        failures = 0
        if fit_id is None:
            time.sleep(poll)
            continue
        beat.fit_id = fit_id
        run_claimed(store, fit_id, pid, time_limit=time_limit)
        beat.fit_id = None
    beat.stop.set()
    try:
        store.forget_worker(pid)  # its supervisor died: leave /health to the new pool's samplers
    except Exception:
        pass


def pool_lock(data_dir):
    """Hold the data directory's pool lock, or None if another process holds it.

    One pool per data directory: a second one would fail the first one's
    running fits as "stopped". The lock goes with its holder, even on SIGKILL.
    """
    handle = open(os.path.join(data_dir, "pool.lock"), "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _state(pid) != "Z"


def _state(pid):
    """The process state letter from /proc (R, S, T for stopped, Z for zombie), or None."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _is_sampler(pid):
    """Whether ``pid`` is a multiprocessing child (a sampler), not a reused pid."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"multiprocessing" in fh.read()
    except OSError:
        return False


def _live_samplers(store):
    return {w["pid"] for w in store.workers() if _alive(w["pid"]) and _is_sampler(w["pid"])}


def recover(data_dir):
    """Fail the fits that were running when the previous pool died.

    Samplers of a pool that died without its server (a killed supervisor) may still be
    finishing a fit: those fits are left to them while their process is alive.
    """
    store = Store(data_dir)
    alive = _live_samplers(store)
    store.fail_running(STOPPED, keep=alive)
    for w in store.workers():
        if w["pid"] not in alive:
            store.forget_worker(w["pid"])
    store.close()


def collect_orphans(store, grace):
    """Remove fit directories older than ``grace`` seconds that no database row owns.

    A request that fails between writing a fit's data and recording it (a full disk, a
    killed worker) leaves such a directory; nothing else would ever remove it.
    """
    root = os.path.join(store.data_dir, "fits")
    known = store.known_ids()
    removed = []
    now = time.time()
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if name in known or not is_fit_id(name):
            continue
        try:
            age = now - os.stat(path).st_mtime
        except FileNotFoundError:
            continue
        if age > grace:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(name)
    if removed:
        log.info("removed %d orphan fit directories: %s", len(removed), ", ".join(removed))
    return removed


class Supervisor:
    def __init__(self, data_dir, workers=2, poll=0.005, fit_time_limit=None, stall_timeout=60.0,
                 cancel_grace=10.0, orphan_grace=900.0, restarts=0, last_exit=None):
        self.data_dir = data_dir
        self.size = max(1, int(workers))
        self.poll = poll
        self.fit_time_limit = fit_time_limit or None
        self.stall_timeout = float(stall_timeout)
        self.cancel_grace = float(cancel_grace)
        self.orphan_grace = float(orphan_grace)
        self.restarts, self.last_exit = int(restarts), last_exit
        self.procs = []
        self._beats = {}    # pid -> shared heartbeat of that child
        self._reasons = {}  # pid -> why the watchdog killed it (instead of the bare signal)
        self._exits = {}    # pid -> how a child ended, until its fit is recorded
        self._born = {}     # pid -> monotonic start time, to back off a crash loop
        self._dead = set()  # pids of exited children not yet replaced
        self._quick = 0     # children in a row that died within 10 s of their start
        self._next_spawn = 0.0  # monotonic time before which no child is respawned
        self._unrecorded = False  # the pool row could not be written at start
        self._stop = threading.Event()
        self._thread = None
        self._lock = None
        self._stopped = False
        self._stop_lock = threading.Lock()
        self._ctx = multiprocessing.get_context("spawn")
        self._draining = self._ctx.Event()  # set by stop(): samplers claim no more fits

    def start(self):
        Store(self.data_dir).close()  # creates the directory and tables
        self._lock = pool_lock(self.data_dir)
        if self._lock is None:
            log.warning("another process owns the sampling pool of %s; not starting one",
                        self.data_dir)
            return self
        # Whatever was running when the previous pool died cannot finish now. On a full or
        # read-only disk this is retried by the watchdog (it fails what has no live worker).
        try:
            recover(self.data_dir)
            store = Store(self.data_dir)
            store.pool_started(os.getpid(), self.restarts, self.last_exit)
            store.close()
        except Exception as exc:
            log.warning("pool start: database unavailable (%s); the watchdog retries", exc)
            self._unrecorded = True
        self.procs = [self._spawn() for _ in range(self.size)]
        self._thread = threading.Thread(target=self._watch, name="bayesreg-watchdog", daemon=True)
        self._thread.start()
        return self

    def _spawn(self):
        beat = self._ctx.Value("d", time.monotonic(), lock=False)
        proc = self._ctx.Process(target=worker_main, name="bayesreg-sampler", daemon=True,
                                 args=(self.data_dir, self.poll, os.getpid(), beat,
                                       self.fit_time_limit, self._draining))
        proc.start()
        self._beats[proc.pid] = beat
        self._born[proc.pid] = time.monotonic()
        return proc

    def _watch(self):
        store = Store(self.data_dir)
        failures, next_db, next_orphans = 0, 0.0, 0.0
        while not self._stop.wait(self.poll * 5):
            try:
                self._respawn()
                self._kill_stalled()
            except Exception:  # e.g. fork fails (EAGAIN, ENOMEM): log and try again
                log.exception("pool watchdog: cannot check or respawn samplers; retrying")
                self._stop.wait(1.0)
            now = time.monotonic()
            if now < next_db:
                continue
            try:
                if self._unrecorded:
                    store.fail_running(STOPPED, keep=set(self.pids()) | _live_samplers(store))
                    store.pool_started(os.getpid(), self.restarts, self.last_exit)
                    self._unrecorded = False
                self._reconcile(store)
                store.pool_beat(os.getpid())
                if now >= next_orphans:
                    collect_orphans(store, self.orphan_grace)
                    next_orphans = now + 60.0
            except Exception as exc:  # a full or read-only disk: log, back off, retry
                if failures == 0:
                    log.warning("pool watchdog: database unavailable (%s); retrying", exc)
                failures += 1
                next_db = now + backoff(failures)
            else:
                if failures:
                    log.warning("pool watchdog: database available again")
                failures = 0
                next_db = now + 0.5

    def alive(self):
        """Whether the watchdog runs (``main`` exits if it died, so the manager replaces us)."""
        return self._thread is not None and self._thread.is_alive()

    def _respawn(self):
        """Replace exited children; their fits are recorded by ``_reconcile``. A child that
        died within 10 s of its start is replaced after a growing delay (a crash loop, e.g.
        an unwritable data directory, must not fork 40 times a second)."""
        now = time.monotonic()
        for i, proc in enumerate(self.procs):
            if proc.exitcode is None or self._stop.is_set():
                continue
            if proc.pid not in self._dead:  # first seen dead: record it once
                self._dead.add(proc.pid)
                self._exits[proc.pid] = (self._reasons.pop(proc.pid, None) or DIED.format(
                    pid=proc.pid, how=describe_exit(proc.exitcode)))
                self._beats.pop(proc.pid, None)
                born = self._born.pop(proc.pid, now)
                self._quick = self._quick + 1 if now - born < 10 else 0
                self._next_spawn = now + (backoff(self._quick, 0.5, 30.0) if self._quick else 0)
            if now < self._next_spawn:
                continue
            self._dead.discard(proc.pid)
            self.procs[i] = self._spawn()

    def _kill(self, pid, reason):
        self._reasons.setdefault(pid, reason)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _kill_stalled(self):
        now = time.monotonic()
        for proc in self.procs:
            beat = self._beats.get(proc.pid)
            if beat is not None and proc.exitcode is None and now - beat.value > self.stall_timeout:
                log.warning("sampler %d: no heartbeat for %.0f s (state %s); killing it",
                            proc.pid, now - beat.value, _state(proc.pid))
                self._kill(proc.pid, STALLED.format(pid=proc.pid, seconds=self.stall_timeout))

    def _reconcile(self, store):
        """Make the database agree with the processes: record fits of dead workers, stop
        fits past their cancel grace or time limit, and watch samplers of a previous pool."""
        children = {p.pid for p in self.procs}
        now = time.time()
        for pid, message in list(self._exits.items()):
            store.fail_running(message, pid=pid)
            store.forget_worker(pid)
            del self._exits[pid]
        for row in store.running():
            pid = row["worker_pid"]
            if pid not in children:
                self._watch_foreign(store, row)
                continue
            reason = self._overdue(row, now)
            if reason is not None:
                self._kill(pid, reason)
        for w in store.workers():
            if w["pid"] not in children and not _alive(w["pid"]):
                store.forget_worker(w["pid"])

    def _watch_foreign(self, store, row):
        """A running fit held by a sampler this supervisor did not start (its own parent
        died): failed if that process is gone, killed if its heartbeat went stale, if its
        DELETE's grace or its time limit ran out."""
        pid = row["worker_pid"]
        if pid is None:
            return  # claim always records a pid; nothing to watch
        if not (_alive(pid) and _is_sampler(pid)):  # gone, or its pid reused by another process
            store.fail_running(GONE, pid=pid)
            return
        now = time.time()
        beats = {w["pid"]: w["heartbeat"] for w in store.workers()}
        age = now - beats.get(pid, 0.0)
        if age > max(self.stall_timeout, 300.0):  # DB heartbeats pause on a full disk: be lenient
            message = STALLED.format(pid=pid, seconds=age)
        else:
            message = self._overdue(row, now)
        if message is None:
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        store.fail_running(message, pid=pid)  # a cancelled fit ends cancelled

    def _overdue(self, row, now):
        """Why a running fit's worker must be killed now, or None: its DELETE's grace ran out
        ("cancelled": the fit then ends cancelled), or its time limit plus that grace did."""
        if row["cancel_requested"] is not None and now - row["cancel_requested"] > self.cancel_grace:
            return "cancelled"
        limit = fit_time_limit(json.loads(row["request"]), self.fit_time_limit)
        if limit and row["started"] and now - row["started"] > limit + self.cancel_grace:
            return OVERTIME.format(limit=limit, grace=self.cancel_grace)
        return None

    def pids(self):
        return [p.pid for p in self.procs]

    def stop(self, timeout=10):
        """Stop the pool once; later calls (atexit after a fixture's call) do nothing.

        In particular they must not touch the data directory: ``recover`` opens a
        ``Store``, which would recreate a directory its owner has removed.
        """
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        if self._lock is None:
            return
        self._draining.set()  # first, so no sampler claims a fit it would be killed running
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()
        for proc in self.procs:
            proc.join(timeout)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout)
        try:
            recover(self.data_dir)
        except Exception as exc:  # the fits stay running; the next start recovers them
            log.warning("pool stop: could not record stopped fits (%s)", exc)
        self._lock.close()
        self._lock = None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m service.pool", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--poll", type=float, default=0.005)
    parser.add_argument("--fit-time-limit", type=float, default=None)
    parser.add_argument("--stall-timeout", type=float, default=60.0)
    parser.add_argument("--cancel-grace", type=float, default=10.0)
    parser.add_argument("--orphan-grace", type=float, default=900.0)
    parser.add_argument("--restarts", type=int, default=0)
    parser.add_argument("--last-exit", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s pool[%(process)d] %(message)s")
    supervisor = Supervisor(args.data_dir, args.workers, args.poll, args.fit_time_limit,
                            args.stall_timeout, args.cancel_grace, args.orphan_grace,
                            args.restarts, args.last_exit).start()
    done, got = threading.Event(), []

    def on_signal(signum, _frame):
        got.append(signum)
        done.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    parent = os.getppid()
    # Outlive neither a SIGTERM nor the process that started it (a SIGKILLed parent sends nothing).
    while not done.wait(0.5) and os.getppid() == parent:
        if supervisor._lock is not None and not supervisor.alive():
            log.error("pool: the watchdog thread died; exiting so that a new pool replaces this one")
            supervisor.stop()
            return 70  # EX_SOFTWARE
    supervisor.stop()
    return 128 + got[0] if got else 0


if __name__ == "__main__":
    sys.exit(main())
