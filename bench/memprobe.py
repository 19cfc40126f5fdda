"""Bench-only launcher for ``mystaff-proxy serve``: a SIGUSR1 memory probe, a short limit window.

    python bench/memprobe.py OUT.jsonl|- -- serve --config CONFIG

Nothing here is part of the product: ``bench/load.py`` starts the proxy through this wrapper
instead of ``python -m mystaff_proxy.cli`` (for ``--limit-window``, see
``shorten_limit_window``) and, with ``--probe``, sends SIGUSR1 at each memory sample; ``-``
instead of OUT.jsonl installs no probe.

Each SIGUSR1 appends one JSON line to OUT.jsonl with:

- ``rss_kib`` (VmRSS), ``threads`` (tasks in /proc/self/task), ``fds`` (open descriptors);
- glibc ``mallinfo2()`` summed over all arenas: ``malloc_arena`` (bytes obtained with brk/sbrk
  and arena mmaps), ``malloc_mmap`` (large mmapped chunks), ``malloc_used`` (bytes in use),
  ``malloc_free`` (free bytes kept inside the arenas), ``malloc_arenas`` (arena count, from
  ``malloc_info``) and ``malloc_heaps`` (per arena: [bytes from the system, free]; 0 = main);
- ``blocks`` (``sys.getallocatedblocks()``: live pymalloc/Python allocations),
  ``gc_objects`` and the 40 most common types among them (``types``);
- ``ratelimit_hits``/``ratelimit_bytes``: timestamps held by the in-memory rate limiter (the
  bench's 100,000-an-hour limits make its windows grow for an hour; 30 an hour would not);
- with ``MYSTAFF_BENCH_TRACEMALLOC=1`` in the environment, the top 25 ``tracemalloc``
  differences (by line) against the first snapshot.

SIGUSR2 (sent once at the end of the run) writes a snapshot, runs ``gc.collect()`` and glibc
``malloc_trim(0)`` (which returns free pages of every arena to the kernel) and writes a second
snapshot marked ``"trim": "after"``: how much of the RSS was free memory the allocator kept.
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import gc
import json
import os
import re
import signal
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def malloc_stats() -> dict[str, object]:
    """glibc's view of the native heap (all arenas), or {} on a libc without mallinfo2."""
    try:
        mallinfo2 = _libc.mallinfo2
    except AttributeError:
        return {}
    mallinfo2.restype = _Mallinfo2
    info = mallinfo2()
    stats: dict[str, object] = {"malloc_arena": info.arena, "malloc_mmap": info.hblkhd,
             "malloc_used": info.uordblks, "malloc_free": info.fordblks}
    fd, path = tempfile.mkstemp(prefix="malloc-info-")
    os.close(fd)
    try:
        _libc.fopen.restype = ctypes.c_void_p
        _libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        _libc.fclose.argtypes = [ctypes.c_void_p]
        _libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
        stream = _libc.fopen(path.encode(), b"w")
        if stream:
            _libc.malloc_info(0, stream)
            _libc.fclose(stream)
            xml = Path(path).read_text()
            stats["malloc_arenas"] = len(re.findall(r"<heap nr=", xml))
            # per arena: (bytes obtained from the system, free bytes kept), arena 0 = main
            stats["malloc_heaps"] = [
                [int(cur), int(free_)] for free_, cur in re.findall(
                    r'<heap nr="\d+">.*?<total type="rest" count="\d+" size="(\d+)"/>.*?'
                    r'<system type="current" size="(\d+)"/>', xml, re.S)]
    finally:
        os.unlink(path)
    return stats


def snapshot() -> dict[str, object]:
    status = Path("/proc/self/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    objects = gc.get_objects()
    types = collections.Counter(type(o).__qualname__ for o in objects)
    # The bench raises the change limits to 100,000 an hour, so each manager's sliding window
    # keeps every change of the last hour: count them to tell that growth apart.
    windows = [o for o in objects if type(o).__name__ == "MemoryRateLimiter"]
    hits = sum(len(d) for w in windows for d in vars(w).get("_hits", {}).values())
    window_bytes = sum(sys.getsizeof(d) + sum(sys.getsizeof(t) for t in d)
                       for w in windows for d in vars(w).get("_hits", {}).values())
    del objects, windows
    data: dict[str, object] = {
        "time": time.time(), "rss_kib": rss, "threads": len(os.listdir("/proc/self/task")),
        "fds": len(os.listdir("/proc/self/fd")),
        "blocks": sys.getallocatedblocks(), "gc_objects": sum(types.values()),
        "ratelimit_hits": hits, "ratelimit_bytes": window_bytes,
        "types": dict(types.most_common(40)), **malloc_stats()}
    return data


def shorten_limit_window() -> None:
    """``MYSTAFF_BENCH_LIMIT_WINDOW=60``: the change limits' window becomes 60 s (bench only).

    The bench raises the per-hour change limits so that no manager is refused, which makes each
    manager's window hold an hour of changes (about 40 bytes each, growing for the first hour
    of a soak). A 60-second window still refuses no one but stops that growth after a minute,
    so what remains of the RSS slope is the allocator's.
    """
    seconds = os.environ.get("MYSTAFF_BENCH_LIMIT_WINDOW")
    if seconds:
        from mystaff_proxy.staff import check as staff

        staff._HOUR = float(seconds)


def install(out: Path) -> None:
    first: list[tracemalloc.Snapshot] = []
    if os.environ.get("MYSTAFF_BENCH_TRACEMALLOC") == "1":
        tracemalloc.start(1)

    busy: list[bool] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if busy:  # a snapshot is still being taken: skip this one rather than nest
            return
        busy.append(True)
        try:
            take(out, first)
        finally:
            busy.clear()

    def on_trim(signum: int, frame: FrameType | None) -> None:
        with out.open("a") as f:
            f.write(json.dumps({"trim": "before", **snapshot()}) + "\n")
        gc.collect()
        _libc.malloc_trim(0)
        with out.open("a") as f:
            f.write(json.dumps({"trim": "after", **snapshot()}) + "\n")

    signal.signal(signal.SIGUSR1, on_signal)
    signal.signal(signal.SIGUSR2, on_trim)


def take(out: Path, first: list[tracemalloc.Snapshot]) -> None:
    data = snapshot()
    if tracemalloc.is_tracing():
        snap = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)])
        if not first:
            first.append(snap)
        data["traced_kib"] = tracemalloc.get_traced_memory()[0] // 1024
        data["tracemalloc_top"] = [
            f"{s.size_diff / 1024:+.1f} KiB {s.count_diff:+d} blocks "
            f"{s.traceback[0].filename}:{s.traceback[0].lineno}"
            for s in snap.compare_to(first[0], "lineno")[:25]]
    with out.open("a") as f:
        f.write(json.dumps(data) + "\n")


def main() -> int:
    args = sys.argv[3:] if sys.argv[2:3] == ["--"] else sys.argv[2:]
    if sys.argv[1] != "-":
        install(Path(sys.argv[1]))
    shorten_limit_window()
    from mystaff_proxy.cli import main as cli_main

    return int(cli_main(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
