"""The benchmark's CPU cap (moodlens_tools.cpucap) against a stand-in cgroup folder: what it writes,
the launcher it makes, and that it cleans up."""

import os
import shutil
import subprocess

import pytest

from moodlens_tools import cpucap


@pytest.fixture
def roots(tmp_path):
    """A fake cgroup v1 cpu and cpuacct mount: mkdir makes a folder, not a group, so the test
    writes the files the kernel would make."""
    cpu, acct = tmp_path / "cpu", tmp_path / "cpuacct"
    for root in (cpu, acct):
        root.mkdir()
        (root / "cgroup.procs").write_text("")
    (cpu / "cpu.cfs_quota_us").write_text("-1")
    (acct / "cpuacct.usage").write_text("0")
    return cpu, acct


def make(roots, cpus=0.5, monkeypatch=None):
    cpu, acct = roots
    group = cpu / f"{cpucap.PREFIX}{os.getpid()}"
    acct_group = acct / group.name
    real_mkdir = type(group).mkdir

    def mkdir(self, *a, **kw):  # what the kernel puts into a new group
        real_mkdir(self, *a, **kw)
        (self / "cgroup.procs").write_text("")
        if self.parent == cpu:
            (self / "cpu.stat").write_text("nr_periods 10\nnr_throttled 4\nthrottled_time 2000000\n")
        else:
            (self / "cpuacct.usage").write_text("1000000000")

    monkeypatch.setattr(type(group), "mkdir", mkdir)
    return cpucap.CpuCap(cpus, cpu_root=cpu, acct_root=acct), group, acct_group


def test_quota_launcher_and_cleanup(roots, monkeypatch, tmp_path):
    cap, group, acct_group = make(roots, 0.5, monkeypatch)
    assert (group / "cpu.cfs_period_us").read_text() == "10000"
    assert (group / "cpu.cfs_quota_us").read_text() == "5000"
    assert cap.label == "cpu cap 0.5 (whole browser)"
    # The launcher joins both groups, then becomes the program (same pid, arguments passed on).
    launcher = cap.wrap("/bin/echo")
    out = subprocess.run([launcher, "hello", "two words"], capture_output=True, text=True, check=True)
    assert out.stdout == "hello two words\n"
    assert (group / "cgroup.procs").read_text().strip().isdigit()
    assert (group / "cgroup.procs").read_text() == (acct_group / "cgroup.procs").read_text()
    (group / "cpu.stat").write_text("nr_periods 110\nnr_throttled 54\nthrottled_time 502000000\n")
    (acct_group / "cpuacct.usage").write_text("3500000000")
    assert cap.stats() == {"cpus": 0.5, "period_us": 10000, "quota_us": 5000, "cpu_seconds": 2.5, "periods": 100,
                           "throttled_periods": 50, "throttled_seconds": 0.5}
    assert cap.usage_ns() == 3_500_000_000  # what the benchmark reads at a navigation and a first emotion
    (group / "cgroup.procs").write_text("")  # the launched process has gone
    (acct_group / "cgroup.procs").write_text("")
    monkeypatch.setattr(type(group), "rmdir", shutil.rmtree)  # a real group goes with its files in it
    assert cap.close(wait=0) == []
    assert not group.exists() and not acct_group.exists() and not os.path.exists(os.path.dirname(launcher))


def test_refuses_what_the_kernel_or_machine_would(roots, tmp_path):
    with pytest.raises(cpucap.CpuCapError, match="smallest"):
        cpucap.CpuCap(0.05, cpu_root=roots[0], acct_root=roots[1])
    with pytest.raises(cpucap.CpuCapError, match="CPUs"):
        cpucap.CpuCap(1000, cpu_root=roots[0], acct_root=roots[1])
    with pytest.raises(cpucap.CpuCapError, match="cgroup v1"):
        cpucap.CpuCap(0.5, cpu_root=tmp_path / "nothing", acct_root=roots[1])


def test_threads_are_summed_by_name_across_the_groups_processes(roots, monkeypatch, tmp_path):
    cap, group, _ = make(roots, 0.5, monkeypatch)
    tick = os.sysconf("SC_CLK_TCK")
    proc = tmp_path / "proc"

    def thread(pid, tid, name, utime, stime):
        folder = proc / str(pid) / "task" / str(tid)
        folder.mkdir(parents=True)
        # /proc/PID/task/TID/stat: the name in parentheses (it may hold spaces and ")"), then
        # fields 3 onwards; utime and stime are the 14th and 15th, in clock ticks.
        rest = ["S"] + ["0"] * 10 + [str(utime), str(stime)] + ["0"] * 30
        (folder / "stat").write_text(f"{tid} ({name}) {' '.join(rest)}\n")

    thread(10, 10, "chromium", 2 * tick, tick)
    thread(10, 11, "VizCompositorTh", tick, 0)
    thread(20, 20, "chromium", tick, 0)
    thread(20, 21, "Dedicated (x) )", 0, tick)
    (group / "cgroup.procs").write_text("10\n20\n30\n")  # 30 has exited: skipped
    assert cap.threads(proc) == {"chromium": 4.0, "VizCompositorTh": 1.0, "Dedicated (x) )": 1.0}
