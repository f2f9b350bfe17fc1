"""`matcalc serve` under load: concurrent API requests of valid, invalid and pathological
inputs, then the latency of a typical derivation (issue 18).

    python benchmarks/web_load.py                  # 200 concurrent requests, then 200 typical
    python benchmarks/web_load.py -n 40 --time-limit 1 --workers 2

The server runs in this process (uvicorn in a thread, the real app of `matcalc serve`
with its worker processes) on a free port of 127.0.0.1; the clients are threads with
plain `http.client` connections, all started together.

Phase 1, the mix, every request sent at once: valid programs (the fuzz seeds of
`benchmarks/fuzz.py` and the page's examples), invalid ones (syntax, shape, name and
option errors: 422 expected) and pathological ones: nesting far over the limit, a
program just over the size limit and a megabyte just under it, a declared size too
large to check (a memory limit), a runaway program (the check of 3,000 quadratic forms:
minutes, stopped at the time limit), the hard inputs of the fuzz tests, too many claims,
a body over the cap, a body that is not JSON. Each class has the statuses it may get;
anything else, a 5xx, a dropped connection or a request still unanswered after the time
limit plus a margin is a failure. Afterwards every worker must be alive and idle.

Phase 2, latency: `x'*A*x` with its check, 200 times one after the other (so no queueing
is counted), and a 3-statement program the same; p50 and p95 of the round trip in ms,
client to server to worker and back. Target: p95 < 50 ms.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

TYPICAL = {"program": "x'*A*x"}
TYPICAL_PROGRAM = {"program": "z = W1*x + b1; a = relu(z); J = 0.5*norm2(y - a)^2",
                   "steps": True, "claims": ["b1 = (z > 0) .* (a - y)"]}

VALID = [
    TYPICAL, TYPICAL_PROGRAM,
    {"program": "Y = X*A' + b'", "shapes": {"X": ["N", "n"]}},
    {"program": "z = x'*A*y", "layout": "numerator"},
    {"program": "tr(A*X*B)", "wrt": ["X"]},
    {"program": "log(det(X))"},
    {"program": "0.5*norm2(W*x - y)^2", "layout": "mixed"},
    {"program": "h = relu(W1*x + b1); s = W2*h + b2; f = logsumexp(s) - y'*s", "steps": True},
    {"program": "softmax(x)", "mode": "jacobian"},
    {"program": "x'*A*x", "mode": "hessian"},
    {"program": "x'*A*x", "mode": "hvp"},
    {"program": "-y'*log(softmax(s))", "onehot": ["y"]},
    {"program": "x'*A*x", "claims": ["x = 2*A*x", "x = (A + A')*x", "x = x'*A"]},
]

INVALID = [
    {"program": "x +"},
    {"program": "Y = X*A + b'", "shapes": {"X": ["N", "n"], "A": ["m", "n"]}},
    {"program": "h = relu(W*x)\nf = sum(h) +* 2"},
    {"program": "foo(x)"},
    {"program": "x'*A*x", "wrt": ["q"]},
    {"program": "x'*A*x", "layout": "sideways"},
    {"program": "x'*A*x", "shapes": {"A": "n,?"}},
    {"program": ""},
    {"program": "x'*A*x", "unknown": 1},
    {"layout": "numerator"},
]


def _chain(n: int, first: str, step: str, last: str) -> str:
    lines = [f"a1 = {first}"] + [f"a{i} = {step.format(p=f'a{i - 1}')}" for i in range(2, n + 1)]
    return "; ".join(lines + [last.format(p=f"a{n}")])


def pathological() -> list[tuple[str, object, set[int]]]:
    """(label, body (a dict, sent as JSON, or raw bytes), the statuses it may get)."""
    from matcalc.parse import MAX_DEPTH, MAX_SOURCE_CHARS
    either = {200, 422}
    return [
        ("nesting 10,000 deep", {"program": "(" * 10_000 + "x" + ")" * 10_000}, {422}),
        ("nesting at the limit", {"program": "(" * (MAX_DEPTH - 1) + "x'*x" +
                                  ")" * (MAX_DEPTH - 1)}, either),
        ("calls 5,000 deep", {"program": "exp(" * 5000 + "x" + ")" * 5000}, {422}),
        ("one character over the size limit", {"program": "x" + " " * MAX_SOURCE_CHARS}, {422}),
        ("a megabyte comment", {"program": "# " + "c" * (MAX_SOURCE_CHARS - 20) + "\nsum(x)"},
         either),
        ("a declared size checked at small sizes", {"program": "x'*A*x",
                                                    "shapes": {"A": [100_000, 100_000]}},
         {200}),
        ("5,000 declared shapes", {"program": "sum(x)",
                                   "shapes": {f"v{i}": ["n"] for i in range(5000)}}, {422}),
        ("runaway: checking 3,000 quadratic forms",
         {"program": " + ".join(f"x{i}'*A*x{i}" for i in range(3000))}, either),
        ("a doubling chain", {"program": _chain(40, "x .* x", "{p} .* {p}", "f = sum({p})")},
         either),
        ("2^9999999999*alpha", {"program": "2^9999999999*alpha"}, either),
        ("alpha^(2^99999)", {"program": "alpha^(2^99999)"}, either),
        ("1e308*1e308*x", {"program": "1e308*1e308*x"}, either),
        ("5,000 nines", {"program": "9" * 5000 + "*x"}, either),
        ("150 powers", {"program": "x^" * 150 + "x"}, either),
        ("101 claims", {"program": "x'*A*x", "claims": ["x = 2*A*x"] * 101}, {422}),
        ("a body over the cap", b'{"program": "' + b"x" * (9 << 20) + b'"}', {413}),
        ("a body that is not JSON", b"{program: x", {422}),
        ("JSON nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000, {422}),
    ]


@dataclass
class Outcome:
    label: str
    expected: set[int]
    status: int | None = None
    seconds: float = 0.0
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status in self.expected


def post(port: int, body, timeout: float, path: str = "/api/derive") -> tuple[int, bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, data, {"Content-Type": "application/json",
                                          "Host": f"127.0.0.1:{port}"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def send(port: int, label: str, body, expected: set[int], timeout: float) -> Outcome:
    out = Outcome(label, expected)
    start = time.perf_counter()
    try:
        out.status, reply = post(port, body, timeout)
        if out.status not in expected:
            out.error = reply[:300].decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as e:
        out.error = f"{type(e).__name__}: {e}"
    out.seconds = time.perf_counter() - start
    return out


@dataclass
class Server:
    """The app of `matcalc serve` under uvicorn, in a thread of this process."""

    workers: int
    time_limit: float
    port: int = 0
    pool: object = None
    _server: object = None
    _thread: threading.Thread | None = None

    def __enter__(self):
        import uvicorn

        from matcalc.web.server import create_app, listen
        sock = listen("127.0.0.1", 0)
        self.port = sock.getsockname()[1]
        app = create_app("127.0.0.1", self.port, workers=self.workers,
                         time_limit=self.time_limit)
        self.pool = app.pool
        config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(30)


@dataclass
class Report:
    outcomes: list[Outcome]
    workers_alive: int
    workers_idle: int
    workers: int
    replaced: int
    seconds: float
    latency: dict[str, list[float]] = field(default_factory=dict)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def healthy(self) -> bool:
        return self.workers_alive == self.workers_idle == self.workers


def mix(n: int) -> list[tuple[str, object, set[int]]]:
    """n requests: every pathological input once, then valid and invalid ones in turn."""
    from matcalc.web.examples import EXAMPLES, as_request
    valid = VALID + [as_request(ex) for ex in EXAMPLES]
    requests = pathological()[:n]
    i = 0
    while len(requests) < n:
        if i % 3 == 2:
            requests.append((f"invalid {i}", INVALID[i % len(INVALID)], {422}))
        else:
            requests.append((f"valid {i}", valid[i % len(valid)], {200}))
        i += 1
    return requests


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] \
        if len(values) > 1 else values[0]


def run(n: int = 200, workers: int | None = None, time_limit: float = 10.0,
        latency_runs: int = 200) -> Report:
    from matcalc.web.workers import default_workers
    workers = workers or default_workers()
    with Server(workers, time_limit) as server:
        # the queue is FIFO: in the worst case a request waits for every one before it
        timeout = time_limit * (n / workers + 2) + 60
        start = time.perf_counter()
        with ThreadPoolExecutor(n) as threads:
            futures = [threads.submit(send, server.port, label, body, expected, timeout)
                       for label, body, expected in mix(n)]
            outcomes = [f.result() for f in futures]
        seconds = time.perf_counter() - start
        time.sleep(0.2)                        # a replaced worker is back in the queue
        pool = server.pool
        report = Report(outcomes, pool.alive(), pool._idle.qsize(), pool.size, pool.replaced,
                        seconds)
        for name, body in (("x'*A*x", TYPICAL), ("3-statement program, steps, claim",
                                                 TYPICAL_PROGRAM)):
            times = []
            for _ in range(latency_runs):
                t = time.perf_counter()
                status, _ = post(server.port, body, 30)
                times.append((time.perf_counter() - t) * 1000)
                assert status == 200
            report.latency[name] = times
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=200, help="concurrent requests (default 200)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: as matcalc serve)")
    parser.add_argument("--time-limit", type=float, default=10.0,
                        help="seconds per derivation (default 10, as matcalc serve)")
    parser.add_argument("--latency-runs", type=int, default=200)
    args = parser.parse_args()
    report = run(args.n, args.workers, args.time_limit, args.latency_runs)
    by_status: dict = {}
    for o in report.outcomes:
        by_status[o.status] = by_status.get(o.status, 0) + 1
    print(f"{len(report.outcomes)} concurrent requests in {report.seconds:.1f} s with "
          f"{report.workers} workers: statuses {dict(sorted(by_status.items(), key=str))}")
    slowest = sorted(report.outcomes, key=lambda o: -o.seconds)[:5]
    print("slowest: " + "; ".join(f"{o.label} {o.status} {o.seconds:.2f} s" for o in slowest))
    print(f"failures: {len(report.failures)}; workers replaced after the time limit: "
          f"{report.replaced}; workers alive and idle afterwards: {report.workers_alive} "
          f"and {report.workers_idle} of {report.workers}")
    for o in report.failures:
        print(f"  FAILED {o.label}: status {o.status}, expected {sorted(o.expected)}: {o.error}")
    print(f"latency, one request at a time ({args.latency_runs} each), ms:")
    for name, times in report.latency.items():
        print(f"  {name:36s} p50 {percentile(times, 50):6.1f}   p95 {percentile(times, 95):6.1f}"
              f"   max {max(times):6.1f}")
    if report.failures or not report.healthy:
        sys.exit(1)


if __name__ == "__main__":
    main()
