"""Every code block in README.md and in the documentation (docs/) runs as written.

The documents are README.md and every page under docs/. What happens to a
fenced block depends on its language:

- ``bash``, ``sh``, ``python``: run. The blocks of one document run one
  after the other in one fresh working directory that holds a copy of
  ``scenarios/`` and ``notebooks/``, so a later block may use what an
  earlier one wrote (a run, then its plots or report). The copies are
  shortened (durations capped, fewer replications) so that a document runs
  in a minute or two; nothing in the blocks themselves is changed. Whatever
  a block leaves running in the background is stopped when its document
  ends.
- ``yaml``: a piece of a scenario file. Merged over a minimal scenario, it
  must load as a valid scenario (a block that only includes a file, such as
  ``--8<-- "scenarios/netflix.yaml"``, is that file).
- ``text`` or no language: printed output, not code; not run.

Three kinds of ``bash`` block are not run with their document, and say
where they are proven:

- the test command (it would run this suite inside itself): ``.ci/run``
  runs exactly that line, and a test below checks that it does;
- install lines that create a virtual environment: they run, in order
  (README first) and each distinct line once, in a copy of the source tree
  (the quick start builds a real venv and runs the example; the notebook
  line installs Jupyter and starts JupyterLab, the docs line installs MkDocs
  and starts its server; each server is stopped once it serves).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from .conftest import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
RUN_LANGUAGES = ("bash", "sh", "python")
TEST_COMMAND_MARK = "pytest"
SNIPPET = re.compile(r'^--8<-- "([^"]+)"$')  #: a block that includes a file of the repository
SHORT_DURATION = 20.0  #: seconds: every copied scenario is cut to at most this long
#: a minimal valid scenario, under which a YAML block of the docs must load
SCENARIO_BASE = {"duration": "1s", "workload": {"reads": {"rate": "10/s", "query_time": "1ms"}}}
#: servers that install lines start, and the line each prints once it serves
SERVERS = {"jupyter lab notebooks/": ("http://", "/lab"), "mkdocs serve": ("Serving on http://",)}


def documents() -> list[Path]:
    """README.md, then every page of the documentation in a stable order."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def _name(document: Path) -> str:
    return document.relative_to(ROOT).as_posix()


def blocks(document: Path) -> list[tuple[int, str, str]]:
    """(line, language, code) of every fenced block of the document, in order."""
    text = document.read_text(encoding="utf-8")
    return [(text.count("\n", 0, match.start()) + 1, match.group(1), match.group(2)) for match in FENCE.finditer(text)]


def readme_blocks() -> list[tuple[int, str, str]]:
    """(line, language, code) of README's blocks that are code."""
    return [block for block in blocks(README) if block[1] in RUN_LANGUAGES]


def _is_test_command(code: str) -> bool:
    return TEST_COMMAND_MARK in code and "venv" in code


def _is_install(code: str) -> bool:
    return "python3 -m venv" in code and not _is_test_command(code)


def runnable(document: Path) -> list[tuple[int, str, str]]:
    """The blocks run with their document: code that is neither the test command nor an install line."""
    return [(line, language, code) for line, language, code in blocks(document)
            if language in RUN_LANGUAGES and not _is_test_command(code) and not _is_install(code)]


def _seconds(value) -> float:
    from cqrs_sim.config.units import parse_duration

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


DOCUMENTS_WITH_CODE = [document for document in documents() if runnable(document)]


def test_documents_have_runnable_blocks():
    """README and the docs keep code blocks of each kind (an empty list would make the test below vacuous)."""
    languages = {language for document in documents() for _, language, _ in runnable(document)}
    assert {"bash", "python"} <= languages, languages
    assert any(_name(d).startswith("docs/") for d in DOCUMENTS_WITH_CODE), "no page of the docs has a block to run"


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop whatever the block left running in its process group (background servers, workers)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _run_block(language: str, code: str, line: int, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    if language == "python":
        script = cwd / f"block_line_{line}.py"
        script.write_text(code, encoding="utf-8")
        command = [sys.executable, str(script)]
    else:
        command = ["bash", "-euo", "pipefail", "-c", code]
    # output goes to files, not pipes: a background process the block leaves behind would hold a pipe open
    out, err = cwd / f"block_line_{line}.out", cwd / f"block_line_{line}.err"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            proc.wait(timeout=600)
        finally:
            _stop_group(proc)
            proc.wait()
    return subprocess.CompletedProcess(command, proc.returncode, out.read_text(errors="replace"),
                                       err.read_text(errors="replace"))


@pytest.mark.parametrize("document", DOCUMENTS_WITH_CODE, ids=[_name(d) for d in DOCUMENTS_WITH_CODE])
def test_document_blocks_run(tmp_path, document):
    """Each block exits 0 and prints no traceback; the document's blocks run in order in one shortened directory."""
    shortened_copy(tmp_path)
    env = _environment(tmp_path)
    for line, language, code in runnable(document):
        proc = _run_block(language, code, line, tmp_path, env)
        where = f"{_name(document)}:{line}"
        assert proc.returncode == 0, f"{where} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        assert "Traceback" not in proc.stderr, f"{where}:\n{proc.stderr}"


YAML_BLOCKS = [(document, line, code) for document in documents() for line, language, code in blocks(document)
               if language == "yaml"]


def _merged(base: dict, piece: dict) -> dict:
    merged = dict(base)
    for key, value in piece.items():
        merged[key] = _merged(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def test_docs_have_yaml_blocks():
    """The check below has something to check: the docs show scenario pieces and at least one whole file."""
    assert len(YAML_BLOCKS) >= 3 and any(SNIPPET.match(code.strip()) for _, _, code in YAML_BLOCKS)


@pytest.mark.parametrize("document, line, code", YAML_BLOCKS, ids=[f"{_name(d)}:{n}" for d, n, _ in YAML_BLOCKS])
def test_yaml_block_is_a_scenario(tmp_path, document, line, code):
    """A YAML block is a scenario, or a piece of one: merged over a minimal scenario, it loads without a problem."""
    import cqrs_sim

    included = SNIPPET.match(code.strip())
    if included:
        path = ROOT / included.group(1)
    else:
        piece = YAML(typ="safe").load(code)
        assert isinstance(piece, dict) and piece, f"{_name(document)}:{line}: not a mapping of scenario keys"
        path = tmp_path / "piece.yaml"
        with open(path, "w", encoding="utf-8") as fh:
            YAML(typ="safe").dump(_merged(SCENARIO_BASE, piece), fh)
    cqrs_sim.load_scenario(path)  # raises ScenarioError, naming every problem, if the block is not a valid scenario


def test_ci_runs_the_readme_test_command():
    """The README's test command is the one `.ci/run` runs (so CI proves that block)."""
    commands = [code.strip() for _, _, code in readme_blocks() if _is_test_command(code)]
    assert len(commands) == 1, commands
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[0] in ci, f"{commands[0]!r} is not in .ci/run"


def _server(code: str) -> tuple[str, ...] | None:
    """For a block whose last command is a server that runs until stopped: what its ready line contains."""
    for command, ready in SERVERS.items():
        if code.strip().endswith(command):
            return ready
    return None


def _run_until_serving(code: str, ready: tuple[str, ...], cwd: Path, env: dict[str, str], deadline_s: float = 900) -> str:
    """Run a block that ends in a server: wait for the line that gives its address, then stop it (its whole group)."""
    proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", code], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL, start_new_session=True)
    seen: list[str] = []
    timer = threading.Timer(deadline_s, lambda: os.killpg(proc.pid, signal.SIGKILL))
    timer.start()
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            seen.append(line)
            if all(part in line for part in ready):
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


def install_blocks() -> list[str]:
    """Every distinct install line, README's first, in the order the documents give them."""
    found: list[str] = []
    for document in documents():
        for _, language, code in blocks(document):
            if language in RUN_LANGUAGES and _is_install(code) and code not in found:
                found.append(code)
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_install_blocks_run_as_written(tmp_path):
    """Each install line, run literally and in order in a copy of the source tree, as a new user would.

    The quick start builds a venv, installs and runs the example (the copy's
    scenarios are shortened as above); the notebook line installs the
    notebook extra into the same venv and starts JupyterLab, and the docs
    line installs the docs extra and starts ``mkdocs serve``; each server is
    stopped once it prints the address it serves. Two settings of the copy
    are not in the lines: Jupyter's own ``allow_root`` is set through a
    config directory, because this test may run as root, which JupyterLab
    refuses by default; and the copy's ``mkdocs.yml`` serves on a free port
    (``dev_addr``) instead of 8000, which another program may hold.
    """
    installs = install_blocks()
    assert any("cqrs-sim run" in code for code in installs), "README has no quick-start install line"
    assert {command for command in SERVERS if any(_server(code) == SERVERS[command] for code in installs)} == set(SERVERS)
    tree = tmp_path / "cqrs-sim"
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tree / name)
    shutil.rmtree(tree / "scenarios")
    shutil.rmtree(tree / "notebooks")
    shortened_copy(tree)
    with open(tree / "mkdocs.yml", "a", encoding="utf-8") as fh:
        fh.write(f"\ndev_addr: 127.0.0.1:{_free_port()}\n")
    config = tmp_path / "jupyter-config"
    config.mkdir()
    (config / "jupyter_server_config.py").write_text("c.ServerApp.allow_root = True\nc.ServerApp.open_browser = False\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"JUPYTER_CONFIG_DIR": str(config), "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
                "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"), "NO_MKDOCS_2_WARNING": "1"})
    for code in installs:
        ready = _server(code)
        if ready:
            output = _run_until_serving(code, ready, tree, env)
            assert "Traceback" not in output, output
            continue
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=tree, env=env, capture_output=True, text=True,
                              timeout=900, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, f"{code}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        assert "Traceback" not in proc.stderr, proc.stderr
        if "cqrs-sim run" in code:
            assert (tree / "results").is_dir() and any((tree / "results").iterdir())
