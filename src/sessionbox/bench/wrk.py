"""HTTP load from Debian's ``wrk``: a compiled client, so the server is what saturates.

The earlier harness drove HTTP with an asyncio httpx client that topped out near
600 requests/s on this machine: its "floor" was the client's ceiling. ``wrk`` does
~100,000 requests/s on one core. Each run records the CPU seconds of both sides
(``wrk`` from its rusage, the server from ``/proc/<pid>/stat`` of every process of
its tree) so a reader sees which side was saturated.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

WRK = "wrk"
_TICK = os.sysconf("SC_CLK_TCK")

# One script for every scenario; ``init`` reads its arguments (after ``--``):
# mode, base path, files, run nonce, bearer token ("-" for none).
LUA = r"""
local mode, base, files, nonce, auth
local counter = 0
local text = string.rep("x", 1023) .. "\n"
local created = '{"content":"' .. string.rep("y", 1023) .. '\\n","encoding":"text"}'
local thread_no = 0

function setup(thread)
  thread:set("thread_no", thread_no)
  thread_no = thread_no + 1
end

function init(args)
  mode, base, files, nonce = args[1], args[2], tonumber(args[3]), args[4]
  math.randomseed(os.time() * 1000 + (thread_no or 0) * 7919 + os.clock() * 1e6)
  wrk.headers["Connection"] = "keep-alive"
  if args[5] ~= nil and args[5] ~= "-" then
    wrk.headers["Authorization"] = "Bearer " .. args[5]
  end
end

local floor = math.floor

local function dir_of(i)  -- LuaJIT is Lua 5.1: no // operator
  return string.format("/d%d/d%d/d%d", floor(i / 1000) % 10, floor(i / 100) % 10,
    floor(i / 10) % 10)
end

local function file_of(i)
  return dir_of(i) .. string.format("/f%d", i % 10)
end

local function headers(content_type)  -- wrk.format drops wrk.headers when given its own
  local out = {["Content-Type"] = content_type}
  for name, value in pairs(wrk.headers) do out[name] = value end
  return out
end

request = function()
  local i = math.random(0, files - 1)
  if mode == "raw" then
    return wrk.format("GET", base .. file_of(i) .. "?raw=1")
  elseif mode == "json" then
    return wrk.format("GET", base .. file_of(i))
  elseif mode == "list" then
    return wrk.format("GET", base .. dir_of(i))
  elseif mode == "put" then
    return wrk.format("PUT", base .. file_of(i),
      headers("application/octet-stream"), text)
  elseif mode == "mix" then  -- bench/load.py: 80 % JSON reads, 20 % raw overwrites
    if math.random() < 0.8 then
      return wrk.format("GET", base .. file_of(i))
    end
    return wrk.format("PUT", base .. file_of(i), headers("application/octet-stream"), text)
  elseif mode == "post" then
    counter = counter + 1
    local path = string.format("/new-%s-%d/d%d/f%d.txt", nonce, thread_no or 0,
      floor(counter / 1000), counter)
    return wrk.format("POST", base .. path, headers("application/json"), created)
  end
  return wrk.format("GET", base .. file_of(i))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,'
    .. '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
    .. '"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max))
end
"""

MODES = ("raw", "json", "list", "put", "post", "mix")


def ensure_wrk() -> str:
    """Debian's wrk, installed with apt-get when missing (as tests install Chromium)."""
    return ensure_tool(WRK, WRK)


def ensure_tool(binary: str, package: str) -> str:
    """A Debian tool on PATH, installed with apt-get when missing.

    Parallel callers serialise on a file lock: two apt-gets at once fail on dpkg's lock.
    """
    found = shutil.which(binary)
    if found:
        return found
    lock_path = Path(tempfile.gettempdir()) / f"sessionbox-{package}-install.lock"
    with open(lock_path, "w") as lock:  # noqa: PTH123
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not shutil.which(binary):
            sudo = [] if os.geteuid() == 0 else ["sudo"]
            apt = shutil.which("apt-get")
            if apt is None:
                raise RuntimeError(f"no {binary} and no apt-get to install it")
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            wait = ["-o", "DPkg::Lock::Timeout=300"]
            subprocess.run([*sudo, apt, *wait, "update"], check=True, env=env, capture_output=True)
            subprocess.run(
                [*sudo, apt, *wait, "install", "-y", package],
                check=True,
                env=env,
                capture_output=True,
            )
    found = shutil.which(binary)
    if not found:
        raise RuntimeError(f"apt-get installed {package}, yet {binary} is not on PATH")
    return found


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return out
    for task in tasks:
        try:
            text = (task / "children").read_text()
        except OSError:
            continue
        out += [int(c) for c in text.split()]
    return out


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (a server's worker processes)."""
    seen, todo = [], [pid]
    while todo:
        current = todo.pop()
        seen.append(current)
        todo += _children(current)
    return seen


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


class TreeCpu:
    """CPU seconds a process tree spends between ``start()`` and ``stop()``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._before: dict[int, float] = {}

    def start(self) -> None:
        self._before = {p: cpu_seconds(p) for p in process_tree(self.pid)}

    def stop(self) -> float:
        now = {p: cpu_seconds(p) for p in process_tree(self.pid)}
        return sum(t - self._before.get(p, 0.0) for p, t in now.items())


@dataclass
class WrkRun:
    """One wrk run's figures; latencies in microseconds."""

    requests: int
    seconds: float
    p50_us: float
    p90_us: float
    p99_us: float
    errors: int
    client_cpu_s: float
    server_cpu_s: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run(
    url: str,
    mode: str,
    *,
    base: str = "",
    files: int = 10_000,
    connections: int = 32,
    threads: int = 1,
    seconds: float = 8.0,
    token: str | None = None,
    server_pid: int | None = None,
    nonce: str = "0",
) -> WrkRun:
    """``wrk -t{threads} -c{connections} -d{seconds}s`` against ``url + base`` in ``mode``."""
    if mode not in MODES:
        raise ValueError(f"unknown wrk mode {mode!r}")
    binary = ensure_wrk()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA)
    server = TreeCpu(server_pid) if server_pid else None
    argv = [binary, f"-t{threads}", f"-c{connections}", f"-d{max(seconds, 1):g}s"]
    argv += ["--timeout", "10s", "-s", script.name, url, "--"]
    argv += [mode, base, str(files), nonce, token or "-"]
    try:
        if server:
            server.start()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate(timeout=seconds + 60)
        # Reaped by Popen: its CPU is the growth of the reaped children's rusage.
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        Path(script.name).unlink(missing_ok=True)
    server_cpu = server.stop() if server else 0.0
    text = out.decode(errors="replace")
    found = re.search(r"WRKJSON (\{.*\})", text)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {text[-800:]} {err.decode()[-800:]}")
    data = json.loads(found.group(1))
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if non2xx:
        errors = max(errors, int(non2xx.group(1)))
    return WrkRun(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_us=data["p50_us"],
        p90_us=data["p90_us"],
        p99_us=data["p99_us"],
        errors=errors,
        client_cpu_s=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        server_cpu_s=server_cpu,
    )
