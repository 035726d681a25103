"""The package's layers: the import contract of pyproject.toml ([tool.importlinter]) holds, and it would catch a breach.

Each package imports only the layers below it and no package imports its siblings in a cycle, counting
imports inside functions too. A function-level import of the package remains only where it keeps
``import cqrs_sim.cli`` fast, and says so in a comment.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cqrs_sim

PACKAGE = Path(cqrs_sim.__file__).resolve().parent
ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def lint(package_parent: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the contract of pyproject.toml, with ``cqrs_sim`` found in ``package_parent`` (its working
    directory, which lint-imports puts first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=package_parent, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_layer_contract_holds():
    result = lint(PACKAGE.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_the_contract_catches_an_upward_import_inside_a_function(tmp_path):
    """A copy of the package where the bottom layer imports the command line inside a function: refused."""
    copy = tmp_path / "cqrs_sim"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    errors = copy / "core" / "errors.py"
    errors.write_text(errors.read_text() + "\n\ndef _upward():\n    from ..cli import app\n\n    return app\n")
    result = lint(tmp_path)
    assert result.returncode != 0
    assert "cqrs_sim.core is not allowed to import cqrs_sim.cli" in result.stdout


def _comment(lines: list[str], node: ast.stmt) -> str:
    """The comment on an import's last line, or on the line above the run of import lines it belongs to."""
    line = lines[node.end_lineno - 1]
    if "#" in line:
        return line.split("#", 1)[1]
    above = node.lineno - 2
    while above >= 0 and lines[above].strip().startswith(("from ", "import ")):
        above -= 1
    text = lines[above].strip() if above >= 0 else ""
    return text[1:] if text.startswith("#") else ""


def function_level_imports() -> list[tuple[str, int, str]]:
    """(file, line, the comment on or above it) of every import of the package inside a function
    (imports under ``if TYPE_CHECKING:`` are for annotations and never run)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text)
        typing_only = {id(sub) for node in ast.walk(tree)
                       if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                       for sub in ast.walk(node)}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or node.col_offset == 0 or id(node) in typing_only:
                continue
            ours = (isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith("cqrs_sim"))
                    or isinstance(node, ast.Import) and any(a.name.startswith("cqrs_sim") for a in node.names))
            if ours:
                found.append((str(path.relative_to(PACKAGE)), node.lineno, _comment(lines, node)))
    return found


def test_every_function_level_import_says_it_keeps_the_command_fast():
    imports = function_level_imports()
    assert imports, "none found: the scan would pass on anything"
    unexplained = [f"{file}:{line}" for file, line, comment in imports if "cqrs_sim.cli" not in comment]
    assert not unexplained, f"function-level imports without a comment naming `import cqrs_sim.cli`: {unexplained}"
