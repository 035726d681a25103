"""Fit benchmark: what ``cqrs-sim fit`` costs on large samples, in time and memory.

The data: lognormal query times (median 2.6 ms, σ 0.5) with 1% outliers
uniform on 0.2–2 s, written as a one-column CSV in milliseconds, at
1 million and 10 million values (``--sizes`` to choose).

(1) The command line, as a user runs it, in a fresh process: its CPU time
(the child's user + system time, which other work on the machine barely
inflates), its peak resident memory (psutil, sampled every 50 ms: see
``memory.py``), and when its first line reached stderr (wall seconds, so
only a rough figure on a busy machine).

(2) In-process, CPU time of each step: reading the file, fitting and
checking the families (on a subsample past 100,000 values), the plot.

Targets, 10 million values: CPU time at most 30 s in all, peak memory at
most 600 MB, a first progress line within 10 s (before: 150 s of silence
and 1.4 GB).

Run by hand: ``python benchmarks/fit.py`` (pip install psutil first).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from memory import peak_tree_rss  # noqa: E402


def write_data(path: Path, n: int) -> None:
    rng = np.random.default_rng(2)
    x = np.exp(np.log(2.6) + 0.5 * rng.standard_normal(n))
    k = n // 100
    x[:k] = rng.uniform(200, 2000, k)
    with open(path, "w") as fh:
        fh.write("query_ms\n")
        for start in range(0, n, 1_000_000):
            fh.write("".join(f"{v:.6g}\n" for v in x[start:start + 1_000_000]))


def first_stderr_line(command: list[str]) -> tuple[float, float, str]:
    """(seconds until the first stderr line, the child's CPU seconds, that line) of a command run to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first: list = []

    def read() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            if not first:
                first.extend([time.perf_counter() - began, line.strip()])

    reader = threading.Thread(target=read)
    reader.start()
    proc.wait()
    reader.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return (first[0] if first else float("nan")), cpu, (first[1] if first else "")


def steps(path: Path) -> dict[str, float]:
    from cqrs_sim.experiments.fitcheck import check_fits, subsample
    from cqrs_sim.experiments.fitio import read_measurements, save_fit_plot

    out = {}
    t = time.process_time()
    measured = read_measurements(str(path), None, "ms")
    out["read"] = time.process_time() - t
    t = time.process_time()
    report = check_fits(measured.values)
    out["fit and check"] = time.process_time() - t
    t = time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        save_fit_plot(subsample(measured.values), [c.fit for c in report.checked], "bench", Path(tmp) / "p.png")
    out["plot"] = time.process_time() - t
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="comma-separated sample sizes")
    args = parser.parse_args()
    command = [sys.executable, "-m", "cqrs_sim", "fit"]
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            data = Path(tmp) / f"q{n}.csv"
            write_data(data, n)
            plot = Path(tmp) / f"q{n}.png"
            line = command + [str(data), "--unit", "ms", "-o", str(plot), "--force"]
            first, cpu, text = first_stderr_line(line)
            peak, wall = peak_tree_rss(line)
            print(f"{n:,} values ({os.path.getsize(data) / 1e6:.0f} MB of CSV): command CPU {cpu:.1f} s, "
                  f"peak RSS {peak / 1e6:.0f} MB, wall {wall:.1f} s, first stderr line after {first:.1f} s ({text!r})")
            parts = steps(data)
            print("   in-process CPU: " + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items()))


if __name__ == "__main__":
    main()
