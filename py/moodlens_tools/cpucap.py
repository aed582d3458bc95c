"""A slow device for the benchmark: browsers run inside a cgroup v1 CPU quota (CPython only, never
shipped; Linux, as root).

    cap = CpuCap(0.5)                    # half a core: a quarter of a 2-core machine
    engine = engines.launch("firefox", wrap=cap.wrap)
    ...
    cap.stats()                          # CPU time the capped processes used, periods throttled
    cap.usage_ns(); cap.threads()        # CPU so far: in all, and by thread name
    cap.close()                          # also at exit

Every process and thread the browser binary starts (Chromium's renderers and GPU process,
Firefox's content processes, WebKit's web and network processes, and every worker thread in
them) inherits the group, so the page's main thread and its workers are slowed alike, unlike
Chromium's CPU throttling (the page's main thread only). ``wrap`` gives the engine a tiny
launcher script in place of the browser binary: it writes its own pid into the group's
``cgroup.procs`` and then ``exec``s the browser, which keeps the pid. What the engine's driver
starts around the browser (Playwright's Node.js driver, WebKitWebDriver, the Xvfb display) and
the benchmark itself (Python, the HTTP server) stay outside the cap.

The quota is enforced per period: ``cpu.cfs_quota_us`` microseconds of CPU per
``cpu.cfs_period_us`` (10 ms here, so a capped browser runs in slices of at most
``F × 10`` ms of CPU per 10 ms, whichever of its threads use them).
"""

from __future__ import annotations

import atexit
import collections
import os
import shutil
import tempfile
import time
from pathlib import Path

CPU_ROOT = Path("/sys/fs/cgroup/cpu")
CPUACCT_ROOT = Path("/sys/fs/cgroup/cpuacct")
PERIOD_US = 10_000
MIN_QUOTA_US = 1_000  # the kernel's floor
PREFIX = "moodlens-bench-"


class CpuCapError(RuntimeError):
    """The cap cannot be set up here; the message says why."""


class CpuCap:
    """A cgroup v1 CPU quota of ``cpus`` CPUs (0.5: half of one core's time) for the processes
    ``wrap``'s launchers start. Removed by ``close`` (also at exit)."""

    def __init__(self, cpus: float, cpu_root: Path = CPU_ROOT, acct_root: Path = CPUACCT_ROOT):
        quota = round(cpus * PERIOD_US)
        if quota < MIN_QUOTA_US:
            raise CpuCapError(f"--cpu-cap {cpus}: the smallest cap is {MIN_QUOTA_US / PERIOD_US:g} CPU")
        if cpus > (os.cpu_count() or 1):
            raise CpuCapError(f"--cpu-cap {cpus}: this machine has {os.cpu_count()} CPUs")
        if not (cpu_root / "cpu.cfs_quota_us").is_file():
            raise CpuCapError(f"no cgroup v1 cpu controller at {cpu_root} (cgroup v2 is not supported here)")
        if not os.access(cpu_root, os.W_OK):
            raise CpuCapError(f"cannot create a cgroup under {cpu_root}: run as root")
        self.cpus = cpus
        _remove_stale(cpu_root)
        self.group = cpu_root / f"{PREFIX}{os.getpid()}"
        self.group.mkdir()
        self._closed = False
        atexit.register(self.close)
        (self.group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (self.group / "cpu.cfs_quota_us").write_text(str(quota))
        # CPU time used: cpuacct, its own hierarchy here (or the same one where co-mounted).
        self.acct = None
        if (self.group / "cpuacct.usage").is_file():
            self.acct = self.group
        elif (acct_root / "cpuacct.usage").is_file() and os.access(acct_root, os.W_OK):
            _remove_stale(acct_root)
            self.acct = acct_root / self.group.name
            self.acct.mkdir()
        self._scripts = Path(tempfile.mkdtemp(prefix=PREFIX))
        self._start = self._read()

    @property
    def label(self) -> str:
        return f"cpu cap {self.cpus:g} (whole browser)"

    def wrap(self, binary: str) -> str:
        """A launcher for ``binary`` that joins the group first (its children inherit it)."""
        groups = [self.group] + ([self.acct] if self.acct and self.acct != self.group else [])
        joins = " && ".join(f"echo $$ > '{g}/cgroup.procs'" for g in groups)
        script = self._scripts / f"{Path(binary).name}-capped"
        script.write_text(f"#!/bin/sh\n{joins} || exit 125\nexec '{binary}' \"$@\"\n")
        script.chmod(0o755)
        return str(script)

    def _read(self) -> dict:
        stat = dict(line.split() for line in (self.group / "cpu.stat").read_text().splitlines() if line.strip())
        usage = int((self.acct / "cpuacct.usage").read_text()) if self.acct else None
        return {"periods": int(stat.get("nr_periods", 0)), "throttled": int(stat.get("nr_throttled", 0)),
                "throttled_ns": int(stat.get("throttled_time", 0)), "usage_ns": usage}

    def usage_ns(self) -> int | None:
        """CPU nanoseconds the group's processes have used (cpuacct), None without cpuacct."""
        return self._read()["usage_ns"]

    def threads(self, proc: Path = Path("/proc")) -> collections.Counter:
        """CPU seconds so far of each live thread of the group's processes, summed by thread name
        (``VizCompositorThread``, ``DedicatedWorker thread``…, as ``/proc`` gives them, at most
        15 characters). A thread that has exited is not counted: compare two readings of
        threads that live through both (a steady state, not a reload)."""
        tick = os.sysconf("SC_CLK_TCK")
        out: collections.Counter = collections.Counter()
        for pid in self.pids():
            try:
                tids = os.listdir(proc / str(pid) / "task")
            except OSError:
                continue  # the process has gone
            for tid in tids:
                try:
                    stat = (proc / str(pid) / "task" / tid / "stat").read_text()
                except OSError:
                    continue
                name = stat[stat.index("(") + 1:stat.rindex(")")]
                fields = stat[stat.rindex(")") + 2:].split()
                out[name] += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        return out

    def stats(self) -> dict:
        """Since the group was made: CPU seconds its processes used, and how many 10 ms periods
        they used up the quota in (and how long they waited for the next one)."""
        now, start = self._read(), self._start
        return {"cpus": self.cpus, "period_us": PERIOD_US, "quota_us": round(self.cpus * PERIOD_US),
                "cpu_seconds": round((now["usage_ns"] - start["usage_ns"]) / 1e9, 1) if now["usage_ns"] is not None
                else None,
                "periods": now["periods"] - start["periods"], "throttled_periods": now["throttled"] - start["throttled"],
                "throttled_seconds": round((now["throttled_ns"] - start["throttled_ns"]) / 1e9, 1)}

    def pids(self) -> list[int]:
        return [int(p) for p in (self.group / "cgroup.procs").read_text().split()]

    def close(self, wait: float = 10.0) -> list[int]:
        """Remove the groups. Processes still in them after ``wait`` seconds (a closed browser's
        helpers take a moment to exit) are moved back to the parent group, not killed; returns
        their pids."""
        if self._closed:
            return []
        self._closed = True
        end = time.monotonic() + wait
        while self.group.is_dir() and self.pids() and time.monotonic() < end:
            time.sleep(0.1)
        left = []
        for group in dict.fromkeys(g for g in (self.group, self.acct) if g):
            if not group.is_dir():
                continue
            for pid in (group / "cgroup.procs").read_text().split():
                left.append(int(pid))
                try:
                    (group.parent / "cgroup.procs").write_text(pid)
                except OSError:  # it exited meanwhile
                    pass
            try:
                group.rmdir()
            except OSError:
                pass
        shutil.rmtree(self._scripts, ignore_errors=True)
        return sorted(set(left))


def _remove_stale(root: Path) -> None:
    """Empty groups an earlier run left behind (killed before it could remove them)."""
    for group in root.glob(f"{PREFIX}*"):
        pid = group.name[len(PREFIX):]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists() and not (group / "cgroup.procs").read_text().strip():
            try:
                group.rmdir()
            except OSError:
                pass
