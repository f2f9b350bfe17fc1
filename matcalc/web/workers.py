"""A few warm worker processes, each request under a time and a memory limit.

Why processes: a derivation is CPU-bound Python, and some inputs run for minutes (the
finite-difference check of thousands of variables) or ask for gigabytes (a literal size
of 100000 checked with real arrays). A thread cannot be stopped; a process can. Each
request takes an idle worker, which runs `api.handle` on the raw body; a worker still
busy when the time limit runs out is killed (SIGKILL) and replaced by a fresh one, so no
input can hang the server, and the others go on meanwhile. Each worker's address space
is capped, so an input that needs too much memory ends in a MemoryError, answered as a
user error, instead of swapping the machine.

The waiting happens in threads (one per worker, `run_in_executor`), so the server's event
loop never blocks; a thread owns its worker from the request to its return to the idle
queue, so a request whose client went away cannot leak a worker. On Linux the workers
are forked from a fork server that has already imported and warmed matcalc
(`matcalc.web.warm`): a replacement starts in milliseconds, not in the second that
importing NumPy and building the parser take.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from concurrent.futures import ThreadPoolExecutor

from .api import JSON_TYPE, Reply, error_answer, json_reply

TIME_LIMIT = 10.0          # seconds of one derivation, check and claims included
MEMORY_LIMIT = 1 << 30     # bytes a worker may allocate beyond what it holds at start
MAX_PENDING = 1000         # requests waiting for a worker; beyond, 503 at once


def default_workers() -> int:
    return max(2, min(4, os.cpu_count() or 2))


def _context():
    """A fork server where there is one (Linux): workers fork from a warm, single-threaded
    process; elsewhere spawn (each worker imports matcalc itself)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["matcalc.web.warm"])
        return ctx
    return multiprocessing.get_context("spawn")


def _limit_memory(extra: int) -> None:
    """Cap this process's address space at its present size plus `extra` bytes."""
    try:
        import resource
        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (size + extra, resource.RLIM_INFINITY))
    except (ImportError, OSError, ValueError):
        pass                                    # not Linux: no cap, the time limit remains


def worker_main(conn, memory_limit: int) -> None:
    """A worker: answer (route, body) requests until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # Ctrl-C is the server's to handle
    import matcalc.web.warm  # noqa: F401  (already loaded when forked from the fork server)

    from ..expr import forget_while_idle
    from .api import handle
    _limit_memory(memory_limit)
    while True:
        try:
            route, body = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(handle(route, body))
        forget_while_idle()                            # before the next request


class TimeLimitExceeded(Exception):
    pass


class Worker:
    """One worker process and the pipe to it."""

    def __init__(self, ctx, memory_limit: int):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=worker_main, args=(child, memory_limit),
                                   daemon=True, name="matcalc-web-worker")
        self.process.start()
        child.close()

    def call(self, route: str, body: bytes, time_limit: float) -> Reply:
        """The worker's reply; TimeLimitExceeded after `time_limit` seconds, EOFError or
        OSError if the worker died."""
        self.conn.send((route, body))
        if not self.conn.poll(time_limit):
            raise TimeLimitExceeded
        return self.conn.recv()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class WorkerPool:
    """`await pool.run(route, body)` -> Reply, on the first idle worker."""

    def __init__(self, size: int | None = None, time_limit: float = TIME_LIMIT,
                 memory_limit: int = MEMORY_LIMIT, max_pending: int = MAX_PENDING):
        self.size = size or default_workers()
        self.time_limit = time_limit
        self.memory_limit = memory_limit
        self.max_pending = max_pending
        self.pending = 0
        self.replaced = 0                       # workers killed and replaced so far
        self.closed = False
        self._ctx = _context()
        self._workers: list[Worker] = []
        self._idle: asyncio.Queue[Worker] | None = None
        self._threads = ThreadPoolExecutor(self.size, thread_name_prefix="matcalc-web")
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._idle = asyncio.Queue()
        workers = await asyncio.gather(*(self._loop.run_in_executor(self._threads, self._new)
                                         for _ in range(self.size)))
        for w in workers:
            self._idle.put_nowait(w)

    def _new(self) -> Worker:
        w = Worker(self._ctx, self.memory_limit)
        self._workers.append(w)
        return w

    def _replace(self, old: Worker) -> Worker:
        """A fresh worker for `old`, killed; none once the pool is closed (the server is
        stopping: a request still running then ends with its worker)."""
        old.kill()
        if self.closed:
            return old
        self._workers.remove(old)
        self.replaced += 1
        return self._new()

    async def run(self, route: str, body: bytes) -> Reply:
        if self.pending >= self.max_pending:
            return json_reply(503, {"error": "the server is busy; try again in a moment",
                                    "kind": "busy"})
        self.pending += 1
        try:
            worker = await self._idle.get()
            # from here the thread owns the worker and returns it to the queue, even if
            # this coroutine is cancelled (the client went away)
            return await self._loop.run_in_executor(self._threads, self._job, worker, route,
                                                    body)
        finally:
            self.pending -= 1

    def _job(self, worker: Worker, route: str, body: bytes) -> Reply:
        """Runs in a thread: the reply of `worker`, replaced first if it ran over or died."""
        try:
            return worker.call(route, body, self.time_limit)
        except TimeLimitExceeded:
            worker = self._replace(worker)
            from matcalc.errors import LimitError
            return json_reply(422, error_answer(LimitError(
                f"this derivation took longer than {self.time_limit:g} s, the server's "
                f"limit, and was stopped; derive fewer variables (wrt), turn the check "
                f"off, or use the command line"), None))
        except (EOFError, OSError) as e:
            worker = self._replace(worker)
            return json_reply(500, {"error": f"internal error: the worker stopped ({e!r})",
                                    "kind": "internal"})
        finally:
            if not self.closed:
                self._loop.call_soon_threadsafe(self._idle.put_nowait, worker)

    def alive(self) -> int:
        """How many worker processes are alive (all of them, unless one is being replaced)."""
        return sum(w.process.is_alive() for w in self._workers)

    def close(self) -> None:
        self.closed = True
        for w in list(self._workers):
            w.kill()
        self._workers.clear()
        self._threads.shutdown(wait=False, cancel_futures=True)


__all__ = ["JSON_TYPE", "MEMORY_LIMIT", "TIME_LIMIT", "WorkerPool", "default_workers"]
