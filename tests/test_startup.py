"""Starting the command is cheap: the CLI module loads no heavy library until a command needs it."""

from __future__ import annotations

import os
import subprocess
import sys

from .conftest import ROOT

HEAVY = ("pandas", "scipy", "simpy", "matplotlib", "pyarrow", "rich.progress")


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return eval(done.stdout.strip().splitlines()[-1])  # noqa: S307 - our own printed list


def test_importing_the_cli_loads_no_heavy_library():
    assert _loaded_after("import cqrs_sim, cqrs_sim.cli") == []


def test_check_and_schema_run_without_heavy_libraries():
    code = ("from typer.testing import CliRunner\nfrom cqrs_sim.cli import app\n"
            f"for args in (['--help'], ['schema'], ['check', {str(ROOT / 'scenarios' / 'netflix.yaml')!r}]):\n"
            "    assert CliRunner().invoke(app, args).exit_code == 0, args")
    assert _loaded_after(code) == []


def test_the_package_names_load_on_first_use():
    assert _loaded_after("import cqrs_sim\nassert callable(cqrs_sim.simulate)") != []  # simulate brings SimPy and pandas
    code = ("import cqrs_sim\nfrom cqrs_sim.experiments.simulate import run_task\n"
            "assert callable(cqrs_sim.simulate) and cqrs_sim.Results.__name__ == 'Results'\n"
            "assert cqrs_sim.plots.latency_cdf and cqrs_sim.load_results and cqrs_sim.load_scenario")
    assert "matplotlib" in _loaded_after(code)
