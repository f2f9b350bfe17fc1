"""`matcalc serve` on the command line: the optional extra, the start-up cost of the CLI,
the address it prints, a taken port, and a clean stop that leaves no worker behind."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from matcalc.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent


def test_serve_without_the_web_extra_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "starlette", None)      # import starlette fails
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2
    assert "matcalc serve needs starlette, which come with the web extra" in result.output
    assert "pip install 'matcalc[web]'" in result.output
    assert "Traceback" not in result.output


def test_the_command_line_starts_without_loading_the_web_server():
    code = ("import sys, matcalc.cli.main; "
            "print(sorted(m for m in ('starlette', 'uvicorn', 'matcalc.web', 'anyio') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_serve_on_a_taken_port_is_a_user_error():
    pytest.importorskip("uvicorn", reason="the web extra is not installed")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--port", str(port)])
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "--port 0 for any free one" in result.output


def _descendants(pid: int) -> set[int]:
    """The processes below `pid` (Linux /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="counts processes through /proc")
def test_serve_prints_its_address_answers_there_and_stops_with_its_workers_on_ctrl_c():
    pytest.importorskip("uvicorn", reason="the web extra is not installed")
    proc = subprocess.Popen([sys.executable, "-m", "matcalc", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)
    try:
        line = proc.stdout.readline()
        match = re.fullmatch(r"matcalc: serving on http://127\.0\.0\.1:(\d+)/  \(Ctrl-C to "
                             r"stop\)\n", line)
        assert match, (line, proc.stderr.read() if proc.poll() is not None else "")
        port = int(match.group(1))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/api/derive", json.dumps({"program": "x'*A*x"}),
                     {"Content-Type": "application/json"})
        reply = conn.getresponse()
        assert reply.status == 200
        assert json.loads(reply.read())["derivatives"]["x"]["text"] == "(A + A')*x"
        conn.request("GET", "/", headers={"Host": f"rebound.example:{port}"})
        assert conn.getresponse().status == 421
        conn.close()
        workers = _descendants(proc.pid)
        assert len(workers) >= 3                 # the fork server and at least two workers
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(p) for p in workers)
    finally:
        if proc.poll() is None:
            proc.kill()
