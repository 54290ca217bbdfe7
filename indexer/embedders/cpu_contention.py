"""Whether anything outside this process wants the CPUs right now, from Linux's /proc.

ONNX Runtime's threads may spin through a question when nothing else is runnable (a question is
about a hundred parallel regions, and waking a sleeping thread at each costs more than the
products), but must sleep when another process wants the cores: a spinning pool then fights it
for them and the question takes longer (docs/decisions/0064-questions-spin-on-idle-cpus.md).
The count of runnable tasks in /proc/loadavg is the kernel's at the moment of reading, so a busy
neighbour shows up at once, not after a minute of load average.
"""

from __future__ import annotations

import os
from pathlib import Path

LOADAVG = Path("/proc/loadavg")
OWN_TASKS = Path("/proc/self/task")


def others_idle(loadavg: Path = LOADAVG, own_tasks: Path = OWN_TASKS) -> bool:
    """True when no task outside this process is runnable now. False where /proc cannot be read
    (another system, a locked-down container): then the threads sleep, as they always did."""
    try:
        running = int(loadavg.read_text().split()[3].partition("/")[0])
    except (OSError, ValueError, IndexError):
        return False
    if running <= 1:  # the thread reading: the common case costs one small read
        return True
    return running <= _own_running(own_tasks)


def _own_running(own_tasks: Path) -> int:
    """This process's runnable threads (its pools may still spin from the last question)."""
    count = 0
    try:
        tasks = os.listdir(own_tasks)
    except OSError:
        return 0
    for task in tasks:
        try:
            stat = (own_tasks / task / "stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        # "pid (name) S ...": the name may hold spaces and brackets, the state follows the last ")"
        end = stat.rfind(")")
        if end >= 0 and stat[end + 2:end + 3] == "R":
            count += 1
    return count
