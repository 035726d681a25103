"""The testbed's agreement table: each shipped testbed scenario predicted from measured parts, against the real run.

``python benchmarks/testbed_agreement.py [--only NAME]`` does for each
``scenarios/testbed_*.yaml`` what ``tests/test_testbed_prediction.py``
checks: calibrate at low load, play the workload at full load on an embedded
PostgreSQL, fit the parts again from the run's own measurements, simulate
that fitted scenario (the prediction) and put it beside the measurement; then
each deliberately wrong prediction (``cqrs_sim.testbed.predict.CONTROLS``) and
the smallest error the comparison detects in each part. It prints Markdown:
the table README's "Checked against a real database" quotes, with the load
average before and after the run and the client's timer lateness. About two
to three minutes per scenario, most of it real time.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _value(metric: str, value) -> str:
    from cqrs_sim.analysis.values import format_value

    return "—" if value is None else format_value(metric, value, exact=False)


def agreement(name: str) -> str:
    import cqrs_sim
    from cqrs_sim.testbed import run_testbed
    from cqrs_sim.testbed.calibrate import calibrate, from_run
    from cqrs_sim.testbed.predict import (POWER_FACTORS, expected, POWER_KEYS, design_of, negative_controls, prediction_table,
                                          smallest_detected)

    path = ROOT / "scenarios" / name
    scenario = cqrs_sim.load_scenario(path)
    load_before = os.getloadavg()
    calibrate(scenario, source=str(path))  # the low-load calibration, as the test does (its table is not quoted)
    measured = run_testbed(scenario, source=str(path))
    load_after = os.getloadavg()
    fitted = from_run(measured).fitted
    table = prediction_table(expected(fitted), measured)
    judged = table[table["within"].notna()]
    lateness = measured.manifest["testbed"]["timer_lateness_s"]
    lines = [f"#### {name}", "",
             f"Load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; client timer lateness "
             f"{lateness}.", "",
             "| design | metric | predicted | measured | difference | target | agrees |", "|---|---|---|---|---|---|---|"]
    for row in judged.itertuples(index=False):
        relative = f" ({row.relative:+.1%})" if row.relative is not None and math.isfinite(row.relative) else ""
        lines.append(f"| {row.architecture} | `{row.metric}` | {_value(row.metric, row.a)} | {_value(row.metric, row.b)} "
                     f"| {_value(row.metric, row.difference)}{relative} | {row.target} | "
                     f"{'yes' if row.agrees else 'NO'} |")
    lines += ["", "| negative control (a wrong model) | targets it misses |", "|---|---|"]
    for control, failures in negative_controls(fitted, measured):
        missed = "; ".join(f.split(":")[0] for f in failures) or "NONE (not rejected)"
        lines.append(f"| {control.label} | {len(failures)}: {missed} |")
    lines += ["", "| part | smallest error detected above | below |", "|---|---|---|"]
    for arch in scenario.architectures:
        for key in POWER_KEYS.get(design_of(scenario, arch), ()):
            power = smallest_detected(fitted, measured, key)
            up, down = max(POWER_FACTORS), min(POWER_FACTORS)
            above = f"×{power['above']}" if power["above"] is not None else f"none up to ×{up}"
            below = f"×{power['below']}" if power["below"] is not None else f"none down to ×{down}"
            lines.append(f"| `{key}` | {above} | {below} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="one scenario file name, such as testbed_cqrs.yaml")
    args = parser.parse_args(argv)
    names = sorted(p.name for p in (ROOT / "scenarios").glob("testbed_*.yaml"))
    if args.only:
        if args.only not in names:
            print(f"error: --only {args.only}: not a shipped testbed scenario ({', '.join(names)})", file=sys.stderr)
            return 2
        names = [args.only]
    from importlib.metadata import version

    print(f"cqrs-sim {version('cqrs-sim')}, {os.cpu_count()} CPUs, python {sys.version.split()[0]}\n")
    for name in names:
        print(agreement(name), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
