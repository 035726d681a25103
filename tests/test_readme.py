"""Every code block in README.md runs as written.

Each fenced ``bash`` or ``python`` block is executed as it stands, in a
fresh working directory that holds a copy of ``scenarios/`` and
``notebooks/``. The copies are shortened (durations capped, fewer
replications) so that the whole file runs in a minute or two; nothing in
the block itself is changed. Blocks without a language are printed output,
not code, and are not run.

Two kinds of block are not run here, and say where they are proven:

- the test command (it would run this suite inside itself): ``.ci/run``
  runs exactly that line, and a test below checks that it does;
- install lines that create a virtual environment: they run, in order, in
  a copy of the source tree (the quick start builds a real venv and runs
  the example; the notebook line installs Jupyter and starts JupyterLab,
  which is stopped once it serves).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from .conftest import ROOT

README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
TEST_COMMAND_MARK = "pytest"
SHORT_DURATION = 20.0  #: seconds: every copied scenario is cut to at most this long


def readme_blocks() -> list[tuple[int, str, str]]:
    """(line, language, code) of every fenced block with a language."""
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        language, code = match.group(1), match.group(2)
        if language in ("bash", "sh", "python"):
            blocks.append((text.count("\n", 0, match.start()) + 1, language, code))
    return blocks


def _is_test_command(code: str) -> bool:
    return TEST_COMMAND_MARK in code and "venv" in code


def _is_install(code: str) -> bool:
    return "python3 -m venv" in code and not _is_test_command(code)


def _seconds(value) -> float:
    from cqrs_sim.units import parse_duration

    return parse_duration(value)


def shortened_copy(destination: Path) -> None:
    """scenarios/ and notebooks/ copied into ``destination``, each scenario cut to SHORT_DURATION."""
    shutil.copytree(ROOT / "notebooks", destination / "notebooks")
    (destination / "scenarios").mkdir()
    yaml = YAML()
    for source in sorted((ROOT / "scenarios").glob("*.yaml")):
        data = yaml.load(source.read_text(encoding="utf-8"))
        duration = _seconds(data["duration"])
        if duration > SHORT_DURATION:
            data["duration"] = f"{SHORT_DURATION:g}s"
            if "warmup" in data and _seconds(data["warmup"]) >= SHORT_DURATION / 4:
                data["warmup"] = f"{SHORT_DURATION / 8:g}s"
        data["replications"] = min(int(data.get("replications", 2)), 2)
        with open(destination / "scenarios" / source.name, "w", encoding="utf-8") as fh:
            yaml.dump(data, fh)


def _environment(workdir: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
    bin_dir = os.path.dirname(sys.executable)  # the cqrs-sim command of the environment under test
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


RUNNABLE = [(line, language, code) for line, language, code in readme_blocks()
            if not _is_test_command(code) and not _is_install(code)]


def test_readme_has_runnable_blocks():
    """The README keeps code blocks of each kind (an empty list would make the test below vacuous)."""
    languages = {language for _, language, _ in RUNNABLE}
    assert {"bash", "python"} <= languages, languages


@pytest.mark.parametrize("line, language, code", RUNNABLE, ids=[f"README-line-{b[0]}" for b in RUNNABLE])
def test_readme_block_runs(tmp_path, line, language, code):
    """The block exits 0 and prints no traceback, in a fresh directory with shortened scenarios."""
    shortened_copy(tmp_path)
    env = _environment(tmp_path)
    if language == "python":
        script = tmp_path / "readme_block.py"
        script.write_text(code, encoding="utf-8")
        command = [sys.executable, str(script)]
    else:
        command = ["bash", "-euo", "pipefail", "-c", code]
    proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"README line {line} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr


def test_ci_runs_the_readme_test_command():
    """The README's test command is the one `.ci/run` runs (so CI proves that block)."""
    commands = [code.strip() for _, _, code in readme_blocks() if _is_test_command(code)]
    assert len(commands) == 1, commands
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[0] in ci, f"{commands[0]!r} is not in .ci/run"


def _serves_until_stopped(code: str) -> bool:
    """A block whose last command is a server that runs until stopped (``jupyter lab``)."""
    return code.strip().endswith("jupyter lab notebooks/")


def _run_until_serving(code: str, cwd: Path, env: dict[str, str], deadline_s: float = 900) -> str:
    """Run a block that ends in a server: wait for the line that gives its address, then stop it (its whole group)."""
    proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", code], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL, start_new_session=True)
    seen: list[str] = []
    timer = threading.Timer(deadline_s, lambda: os.killpg(proc.pid, signal.SIGKILL))
    timer.start()
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            seen.append(line)
            if "http://" in line and "/lab" in line:
                return "".join(seen)
        raise AssertionError(f"{code}\nended ({proc.wait()}) without serving:\n{''.join(seen)[-3000:]}")
    finally:
        timer.cancel()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def test_install_blocks_run_as_written(tmp_path):
    """Each install line, run literally and in order in a copy of the source tree, as a new user would.

    The quick start builds a venv, installs and runs the example (the copy's
    scenarios are shortened as above); the notebook line installs the
    notebook extra into the same venv and starts JupyterLab, which is
    stopped once it prints the address it serves (Jupyter's own setting
    ``allow_root`` is set through a config directory, because this test may
    run as root, which JupyterLab refuses by default).
    """
    installs = [code for _, _, code in readme_blocks() if _is_install(code)]
    assert any("cqrs-sim run" in code for code in installs), "README has no quick-start install line"
    tree = tmp_path / "cqrs-sim"
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tree / name)
    shutil.rmtree(tree / "scenarios")
    shutil.rmtree(tree / "notebooks")
    shortened_copy(tree)
    config = tmp_path / "jupyter-config"
    config.mkdir()
    (config / "jupyter_server_config.py").write_text("c.ServerApp.allow_root = True\nc.ServerApp.open_browser = False\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"JUPYTER_CONFIG_DIR": str(config), "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
                "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data")})
    for code in installs:
        if _serves_until_stopped(code):
            output = _run_until_serving(code, tree, env)
            assert "Traceback" not in output, output
            continue
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=tree, env=env, capture_output=True, text=True,
                              timeout=900, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, f"{code}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        assert "Traceback" not in proc.stderr, proc.stderr
        if "cqrs-sim run" in code:
            assert (tree / "results").is_dir() and any((tree / "results").iterdir())
