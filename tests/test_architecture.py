"""The library's layers hold (import-linter contracts in pyproject.toml), no module imports inside a
function (the way an import cycle hides), and no chapter defines a function or class."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "sgdtails"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_import_contracts_are_kept():
    proc = subprocess.run([str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def _nested_imports(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines += [n.lineno for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))]
    return lines


def test_no_import_inside_a_function():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line in _nested_imports(ast.parse(path.read_text(encoding="utf-8"))):
            offenders.append(f"{path.relative_to(ROOT)}:{line}")
    assert not offenders, "imports inside functions: " + ", ".join(offenders)


def test_nested_import_detector_sees_one():
    assert _nested_imports(ast.parse("def f():\n    import os\n")) == [2]


def test_chapters_define_no_functions_or_classes():
    offenders = []
    for path in sorted((ROOT / "book").glob("*.py")):
        nb = jupytext.read(path)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            tree = ast.parse(cell.source)
            if any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
                   for n in ast.walk(tree)):
                offenders.append(f"{path.name} cell {i}")
    assert not offenders, "chapters define functions, classes or lambdas: " + ", ".join(offenders)


def test_the_layer_map_of_the_book_names_every_layer():
    contract = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]
    page = (ROOT / "book" / "building.md").read_text(encoding="utf-8")
    for layer in contract["layers"]:
        for module in layer.split("|"):
            assert f"`{module.strip()}`" in page, f"book/building.md does not name {module.strip()}"


SMALL_FONT = re.compile(r"(fontsize|labelsize|size)\s*[=:]\s*[\"']?([0-8](\.\d+)?)\b")


def test_no_font_below_the_theme_minimum():
    """Chapters and plotting helpers never ask for a font below 9 pt (the theme's minimum)."""
    offenders = []
    for path in sorted([*(ROOT / "book").glob("*.py"), *(PACKAGE / "plotting").glob("*.py")]):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "font" in line or "labelsize" in line:
                for m in SMALL_FONT.finditer(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{i}: {m.group(0)}")
    assert not offenders, "fonts below 9 pt: " + ", ".join(offenders)
