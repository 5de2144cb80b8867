"""A real single-node SLURM cluster on this machine, for the cluster-execution test.

Follows ../shared/cluster/SLURM.md: slurm-wlm and munge from apt, daemons started directly
(no systemd), one node with a fake GPU gres so `gpu=1` jobs can be scheduled, no accounting
daemon. slurm.conf and gres.conf go to /etc/slurm (srun inside a job finds its config only
there: SLURM_CONF does not reach the job step), marked as ours and removed afterwards; a
config we did not write is never overwritten. State, logs and PID files live in a temporary
directory, and the daemons are stopped by the PIDs they wrote.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PACKAGES = ("slurm-wlm", "munge")
BINARIES = ("/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch")
ETC = Path("/etc/slurm")
MARK = "# written by actsparse tests/slurm_cluster.py\n"


class ClusterUnavailable(RuntimeError):
    """apt or the daemons cannot run here (not root, no apt); the test skips loudly."""


def install() -> None:
    """apt-get install the packages when a binary is missing (apt-get update on a miss)."""
    if all(Path(b).exists() for b in BINARIES):
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ClusterUnavailable("slurm-wlm/munge are not installed and apt-get cannot run here")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", *PACKAGES]
    if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=True)
        subprocess.run(cmd, env=env, capture_output=True, check=True)


def _conf(d: Path, host: str) -> str:
    cpus = os.cpu_count() or 1
    mem_mb = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 * 0.8)
    return f"""{MARK}\
ClusterName=actsparse-ci
SlurmctldHost={host}
SlurmUser=root
AuthType=auth/munge
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
ReturnToService=2
MpiDefault=none
GresTypes=gpu
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} Gres=gpu:1 State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _munged_running() -> bool:
    return subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode == 0


@contextmanager
def local_slurm(d: Path) -> Iterator[dict[str, str]]:
    """Start munged (unless running), slurmctld and slurmd; yield the environment that
    points sbatch/squeue at this cluster; stop what was started, by PID."""
    install()
    host = socket.gethostname()
    for sub in ("state", "spool"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    confs = {
        ETC / "slurm.conf": _conf(d, host),
        ETC / "gres.conf": f"{MARK}AutoDetect=off\nNodeName={host} Name=gpu File=/dev/null\n",
    }
    for path in confs:
        if path.exists() and not path.read_text().startswith(MARK):
            raise ClusterUnavailable(f"{path} exists and is not ours; not overwriting it")
    ETC.mkdir(parents=True, exist_ok=True)
    for path, text in confs.items():
        path.write_text(text)
    env = dict(os.environ)
    started: list[Path] = []
    munge_pid = Path("/run/munge/munged.pid")
    try:
        if not _munged_running():
            Path("/run/munge").mkdir(parents=True, exist_ok=True)
            shutil.chown("/run/munge", "munge", "munge")
            subprocess.run(["su", "-s", "/bin/sh", "munge", "-c", "/usr/sbin/munged"], check=True)
            started.append(munge_pid)
        subprocess.run(["/usr/sbin/slurmctld"], env=env, check=True)
        started.append(d / "slurmctld.pid")
        subprocess.run(["/usr/sbin/slurmd"], env=env, check=True)
        started.append(d / "slurmd.pid")
        deadline = time.monotonic() + 60
        while True:
            state = subprocess.run(
                ["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True
            ).stdout.strip()
            if state == "idle":
                break
            if time.monotonic() > deadline:
                logs = "".join(p.read_text()[-2000:] for p in d.glob("*.log"))
                raise ClusterUnavailable(f"the node never became idle ({state!r}):\n{logs}")
            time.sleep(0.5)
        yield env
    finally:
        for pidfile in reversed(started):
            pid = _pid(pidfile)
            if pid is not None:
                _stop(pid)
        for path in confs:
            path.unlink(missing_ok=True)


def _stop(pid: int, grace_s: float = 15.0) -> None:
    """SIGTERM, wait for the daemon to exit, SIGKILL if it will not."""
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
