"""Whether another process wants the CPUs: read from /proc/loadavg's count of runnable tasks,
less this process's own runnable threads; unreadable means busy (the threads then sleep)."""

import threading
import time

from indexer.embedders.cpu_contention import OWN_TASKS, _own_running, others_idle


def _loadavg(tmp_path, running: int):
    path = tmp_path / "loadavg"
    path.write_text(f"0.52 0.41 0.30 {running}/312 4021\n")
    return path


def _tasks(tmp_path, *states: str):
    tasks = tmp_path / f"task-{''.join(states)}"
    for n, state in enumerate(states):
        (tasks / str(100 + n)).mkdir(parents=True)
        # a thread's name may hold spaces and brackets: the state follows the last ")"
        (tasks / str(100 + n) / "stat").write_text(f"{100 + n} (ort (pool) 1) {state} 1 2 3\n")
    return tasks


def test_only_the_reading_thread_running_is_idle(tmp_path):
    assert others_idle(_loadavg(tmp_path, 1), tmp_path / "none")


def test_runnable_tasks_that_are_all_this_process_s_are_idle(tmp_path):
    assert others_idle(_loadavg(tmp_path, 2), _tasks(tmp_path, "R", "R", "S"))


def test_a_runnable_task_of_another_process_is_busy(tmp_path):
    assert not others_idle(_loadavg(tmp_path, 3), _tasks(tmp_path, "R", "R", "S"))
    assert not others_idle(_loadavg(tmp_path, 2), _tasks(tmp_path, "R", "S"))


def test_what_cannot_be_read_counts_as_busy(tmp_path):
    assert not others_idle(tmp_path / "missing", tmp_path)
    (tmp_path / "loadavg").write_text("garbage\n")
    assert not others_idle(tmp_path / "loadavg", tmp_path)


def test_this_machine_s_proc_counts_a_busy_thread_of_ours_as_ours():
    """Against the real /proc: the reading thread and a spinning thread of this process are both
    runnable ("R" is running or waiting for a core), so neither is taken for another process."""
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            pass

    worker = threading.Thread(target=spin)
    worker.start()
    try:
        time.sleep(0.05)
        seen = [_own_running(OWN_TASKS) for _ in range(50)]
    finally:
        stop.set()
        worker.join()
    assert max(seen) >= 2, seen
    assert _own_running(OWN_TASKS) >= 1  # the reading thread alone
