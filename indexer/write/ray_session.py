"""Ray connected for one `vraagbaak index --ray` run, and quiet: none of Ray's logs, banners,
warnings or progress bars reach users (they go to a log file that only an error names), and
what failed on the cluster comes back as vraagbaak's own error.
Why: docs/decisions/0045-ray-embeds-the-texts.md
"""

from __future__ import annotations

import functools
import logging
import os
import re
import socket
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexer import errors
from indexer.errors import ClusterError, VraagbaakError
from indexer.settings import RAY_AUTO, RAY_LOCAL, RaySettings

INSTALL_HINT = "install the extra: pip install 'vraagbaak[ray]' (ray[data]==2.60.0)"
CONNECT_SECONDS = 5.0
_OWN_ERROR = re.compile(r"^indexer\.errors\.(\w+): (.+)$(?:\n\s*hint: (.+)$)?", re.M)


@contextmanager
def ray_session(settings: RaySettings) -> Iterator[tuple[object, Path | None]]:
    """Ray connected as ``settings`` say, quiet, and disconnected afterwards (a private Ray
    stopped). A Ray this process already started (a test's, a notebook's) is used and left."""
    ray = _import_ray()
    if ray.is_initialized():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _quiet_data(ray)
            yield ray, None
        return
    with _quiet_stderr() as log:
        _connect(ray, settings, log)
        try:
            _quiet_data(ray)
            yield ray, log
        finally:
            ray.shutdown()


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise ClusterError(f"--ray needs Ray, which is not installed here ({exc.name})",
                           hint=INSTALL_HINT) from None
    return ray


def _connect(ray, settings: RaySettings, log: Path) -> None:
    common = {"include_dashboard": False, "log_to_driver": False,
              "logging_level": logging.ERROR}
    private = {"num_cpus": settings.cpus or os.cpu_count() or 1,
               "object_store_memory": settings.object_store_mb << 20}
    if settings.address == RAY_LOCAL:
        return _init(ray, settings, log, address="local", **common, **private)
    if settings.address == RAY_AUTO:
        try:
            return ray.init(address="auto", **common)
        except ConnectionError:  # no cluster to join: a private one
            return _init(ray, settings, log, address="local", **common, **private)
    check_reachable(settings)
    return _init(ray, settings, log, address=settings.address, **common)


def _init(ray, settings: RaySettings, log: Path, **options) -> None:
    try:
        init(ray, **options)
    except Exception as exc:  # noqa: BLE001 (ConnectionError, RuntimeError, grpc's...)
        where = "a private Ray" if options["address"] == "local" else settings.address
        raise ClusterError(f"cannot start or join {where}: {_first_line(exc)}",
                           hint=f"Ray's own messages are in {log}") from None


def init(ray, **options) -> None:
    """``ray.init(**options)``; a private Ray (address "local") is tried twice. Ray waits a fixed
    30 s for its raylet to register, which a busy machine's first start can miss (CI saw
    "The current node timed out during startup" once, with the next start fine)."""
    tries = 2 if options.get("address") == "local" else 1
    for attempt in range(tries):
        try:
            ray.init(**options)
            return
        except Exception:  # noqa: BLE001 (Ray raises a bare Exception for that timeout)
            ray.shutdown()
            if attempt + 1 == tries:
                raise


def check_ray(settings: RaySettings) -> None:
    """Before anything takes time: Ray is installed, and a cluster's address answers."""
    _import_ray()
    if settings.host_port:
        check_reachable(settings)


def check_reachable(settings: RaySettings) -> None:
    """A quick, clear answer for an address nothing listens on (Ray itself retries for long)."""
    try:
        socket.create_connection(settings.host_port, timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        raise ClusterError(f"cannot reach the Ray cluster at {settings.address}: "
                           f"{exc.strerror or type(exc).__name__}",
                           hint="is the cluster up (`ray status` on its head node)? --ray local "
                                "runs a private Ray on this machine") from None


def _quiet_data(ray) -> None:
    """No progress bars, no execution banners; Ray Data's console log handler silenced (its
    log file stays), and the user's own exception rather than Ray's wrapper."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.enable_operator_progress_bars = False
    context.print_on_execution_start = False
    context.raise_original_map_exception = True
    for handler in logging.getLogger("ray.data").handlers:
        if not isinstance(handler, logging.FileHandler):
            handler.setLevel(logging.CRITICAL + 1)


@contextmanager
def _quiet_stderr() -> Iterator[Path]:
    """Everything written to file descriptor 2 (Ray's C++ core, its child processes, its
    handlers) and to sys.stdout goes to a log file while Ray runs; Python's sys.stderr, where
    vraagbaak's own progress goes, still reaches the user. The log is kept only when an error names it (or
    something unforeseen failed)."""
    fd, name = tempfile.mkstemp(prefix="vraagbaak-ray-", suffix=".log")
    sys.stderr.flush()
    saved = os.dup(2)
    own, own_out = sys.stderr, sys.stdout
    keep = True
    try:
        os.dup2(fd, 2)
        sys.stderr = open(os.dup(saved), "w", encoding=getattr(own, "encoding", None) or "utf-8",
                          errors="replace", buffering=1)
        # Ray prints its workers' errors to sys.stdout from a thread of its own: to the log too
        # (vraagbaak writes nothing to stdout while Ray runs)
        sys.stdout = open(os.dup(fd), "w", encoding="utf-8", errors="replace", buffering=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield Path(name)
        keep = False
    except VraagbaakError as exc:
        keep = name in (exc.hint or "")  # the error names it
        raise
    finally:
        sys.stderr.close()
        sys.stdout.close()
        sys.stderr, sys.stdout = own, own_out
        os.dup2(saved, 2)
        os.close(saved)
        os.close(fd)
        if not keep:
            Path(name).unlink(missing_ok=True)


def keeps_hint(method):
    """An actor's method whose vraagbaak error reaches the driver with its hint: Ray hands an
    actor's exception back as text only (an ActorDiedError's message ends with its traceback),
    so the hint goes into the message's second line, where ``failure`` reads it back."""
    @functools.wraps(method)
    def kept(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except VraagbaakError as exc:
            if not exc.hint or "\nhint: " in str(exc):
                raise
            raise type(exc)(f"{exc}\nhint: {exc.hint}", hint=exc.hint) from exc
    return kept


def failure(exc: Exception, log: Path | None) -> VraagbaakError:
    """What failed on the cluster, as vraagbaak's own error where it was one. Ray keeps an
    actor's own exception only as text (an ActorDiedError's message ends with its traceback),
    so the last `indexer.errors.X: message` line there is read back as that error."""
    if isinstance(exc, VraagbaakError) and not _made_by_ray(type(exc)):
        return exc  # the driver's own (an article lost in the split, a short write), as it is
    where = f"Ray's own messages are in {log}" if log else None
    seen, chain = set(), [exc]
    while chain and len(seen) < 16:
        current = chain.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, VraagbaakError):
            own = _unwrapped(current)
            return _own_class(own)(str(own).split("\n")[0], hint=_hints(own.hint, where))
        own = _OWN_ERROR.findall(str(current))
        if own and isinstance(getattr(errors, own[-1][0], None), type):
            kind, message, hint = own[-1]
            return getattr(errors, kind)(message.strip(), hint=_hints(hint.strip(), where))
        chain += [getattr(current, "cause", None), current.__cause__, current.__context__]
    return ClusterError(f"embedding on Ray failed: {type(exc).__name__}: {_first_line(exc)}",
                        hint=_hints("nothing was published; the vectors made so far are kept",
                                    where))


def _hints(*parts: str | None) -> str | None:
    return "; ".join(p for p in parts if p) or None


def _unwrapped(error: VraagbaakError) -> VraagbaakError:
    """Ray's RayTaskError(X) is an X too, but with Ray's text and constructor; the actor's own
    X is its cause."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, VraagbaakError) else error


def _own_class(error: VraagbaakError) -> type:
    return next(c for c in type(error).__mro__
                if issubclass(c, VraagbaakError) and not _made_by_ray(c))


def _made_by_ray(cls: type) -> bool:
    return cls.__module__.split(".")[0] == "ray"


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0].strip() if lines else type(exc).__name__
