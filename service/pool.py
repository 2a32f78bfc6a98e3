"""The sampling pool: long-lived worker processes and the supervisor that
watches them.

Workers claim queued fits from SQLite (queued -> running with their pid),
sample, and write the result to disk and DB themselves. They live as long as
the server, with the core's sampler kernel loaded at start. A sampler crash
(segfault, OOM kill) takes down one worker only: the supervisor's watchdog
sees its exit code, fails the fit it held with the reason, and respawns it.

Exactly one supervisor runs per data directory: inside the app process for
``create_app()`` (tests, ``flask run``), or, under gunicorn, as a child of
the master started from the ``when_ready`` hook (see ``server.py``), so that
any number of HTTP workers share one pool. Run it alone with
``python -m service.pool --data-dir DIR --workers N``.
"""

import argparse
import fcntl
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time

from .store import Store

DIED = "worker process {pid} died with {how} while running this fit; the server kept running"
STOPPED = ("the server stopped while this fit was running (worker pid {pid}); "
           "submit it again")


def describe_exit(code):
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        return f"signal {-code} ({name})"
    return f"exit code {code}"


def warm_kernel(data_dir):
    """Load the core's sampler kernel before the first fit, one worker at a time.

    The kernel compiles once per machine into numba's disk cache. Under the lock, the first
    worker of a fresh machine compiles it and the others wait, then load it from the cache:
    no worker pays a compile that another has paid.
    """
    from bayesreg.model import load_kernel

    with open(os.path.join(data_dir, ".kernel.lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        seconds = load_kernel()
    log.info("sampler %d: kernel ready in %.2f s", os.getpid(), seconds)


def worker_main(data_dir, poll, parent_pid):
    """Body of one sampling process (spawn context: a fresh interpreter)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's to handle
    store = Store(data_dir)
    pid = os.getpid()
    current = [None]
    stop = threading.Event()

    def beat():
        while not stop.wait(1.0):
            store.heartbeat(pid, current[0])

    store.heartbeat(pid)
    threading.Thread(target=beat, daemon=True).start()
    import bayesreg  # noqa: F401  -- pay the import before the first fit, not during it

    warm_kernel(data_dir)
    from .jobs import run_claimed

    while os.getppid() == parent_pid:
        fit_id = store.claim(pid)
        if fit_id is None:
            time.sleep(poll)
            continue
        current[0] = fit_id
        store.heartbeat(pid, fit_id)
        run_claimed(store, fit_id, pid)
        current[0] = None
        store.heartbeat(pid)
    stop.set()


log = logging.getLogger(__name__)


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


def recover(data_dir):
    """Fail the fits that were running when the previous server died."""
    store = Store(data_dir)
    store.fail_running(STOPPED)
    store.forget_worker()
    store.close()


class Supervisor:
    def __init__(self, data_dir, workers=2, poll=0.005):
        self.data_dir = data_dir
        self.size = max(1, int(workers))
        self.poll = poll
        self.procs = []
        self._stop = threading.Event()
        self._thread = None
        self._lock = None
        self._stopped = False
        self._stop_lock = threading.Lock()
        self._ctx = multiprocessing.get_context("spawn")

    def start(self):
        Store(self.data_dir).close()  # creates the directory and tables
        self._lock = pool_lock(self.data_dir)
        if self._lock is None:
            log.warning("another process owns the sampling pool of %s; not starting one",
                        self.data_dir)
            return self
        # Whatever was running when the previous server died cannot finish now.
        recover(self.data_dir)
        self.procs = [self._spawn() for _ in range(self.size)]
        self._thread = threading.Thread(target=self._watch, name="bayesreg-watchdog", daemon=True)
        self._thread.start()
        return self

    def _spawn(self):
        proc = self._ctx.Process(target=worker_main, name="bayesreg-sampler", daemon=True,
                                 args=(self.data_dir, self.poll, os.getpid()))
        proc.start()
        return proc

    def _watch(self):
        store = Store(self.data_dir)
        while not self._stop.wait(self.poll * 5):
            for i, proc in enumerate(self.procs):
                if proc.exitcode is None or self._stop.is_set():
                    continue
                how = describe_exit(proc.exitcode)
                store.fail_running(DIED.replace("{how}", how), pid=proc.pid)
                store.forget_worker(proc.pid)
                self.procs[i] = self._spawn()

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
        recover(self.data_dir)
        self._lock.close()
        self._lock = None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m service.pool", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--poll", type=float, default=0.005)
    args = parser.parse_args(argv)
    supervisor = Supervisor(args.data_dir, args.workers, args.poll).start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    parent = os.getppid()
    # Outlive neither a SIGTERM nor the gunicorn master (a SIGKILLed master sends nothing).
    while not done.wait(0.5) and os.getppid() == parent:
        pass
    supervisor.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
