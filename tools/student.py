"""Write the student edition of the workbook: the notebooks without their reference solutions.

    python tools/student.py [--out student] [NOTEBOOK.ipynb ...]

In every notebook (default: notebooks/NN_*.ipynb) each cell tagged ``solution`` (a reference solution, folded in the
book) or ``reference`` (a cell that shows or uses one, such as the readable version of a step the learner is asked to
write) is removed, the names ``solution`` and ``show_solution`` are dropped from the imports of ``okcore.exercises`` in
the cells that remain, and every code cell loses its outputs and execution count: the learner runs the notebook, and no
stored output answers a question before it is asked. Everything else (the other cells' sources, ids and metadata, the
notebook's metadata apart from stored widget state) is kept as it is. A cell that is kept and still uses ``solution``
or ``show_solution`` is an error. The copies go into one folder beside notebooks/, so paths relative to a notebook
still resolve.
"""

from __future__ import annotations

import argparse
import ast
import copy
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = "solution"
REFERENCE = "reference"
REMOVED = (SOLUTION, REFERENCE)
EXERCISE = "exercise"
EXERCISES_MODULE = "okcore.exercises"
REFERENCE_NAMES = frozenset({"solution", "show_solution"})


@dataclass(frozen=True)
class Edition:
    """What :func:`student_edition` did to one notebook."""

    solutions_removed: int  # cells tagged solution or reference
    exercises: int
    imports_stripped: int


def tags(cell: nbformat.NotebookNode) -> list[str]:
    """The cell's tags (an empty list when it has none)."""
    return list(cell.get("metadata", {}).get("tags", []))


def _parse(source: str) -> ast.Module | None:
    """The cell as Python (IPython magics and shell lines read as ``pass``), or None if it does not parse."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        lines.append(line[: len(line) - len(stripped)] + "pass" if stripped.startswith(("%", "!")) else line)
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def strip_reference_imports(source: str) -> tuple[str, int]:
    """``source`` with ``solution`` and ``show_solution`` removed from its ``from okcore.exercises import ...``
    statements (a statement left empty is removed); returns the new source and the number of statements changed."""
    tree = _parse(source)
    if tree is None:
        return source, 0
    lines = source.splitlines(keepends=True)
    changed = 0
    for node in sorted(ast.walk(tree), key=lambda n: -getattr(n, "lineno", 0)):
        if not (isinstance(node, ast.ImportFrom) and node.module == EXERCISES_MODULE and node.level == 0):
            continue
        kept = [alias for alias in node.names if alias.name not in REFERENCE_NAMES]
        if len(kept) == len(node.names):
            continue
        first, last = node.lineno - 1, node.end_lineno - 1
        indent = lines[first][: node.col_offset]
        ending = "\n" if lines[last].endswith("\n") else ""
        names = ", ".join(alias.name if alias.asname is None else f"{alias.name} as {alias.asname}" for alias in kept)
        replacement = [f"{indent}from {EXERCISES_MODULE} import {names}{ending}"] if kept else []
        lines[first : last + 1] = replacement
        changed += 1
    return "".join(lines), changed


def reference_uses(source: str) -> list[str]:
    """The names ``solution`` / ``show_solution`` wherever the cell uses them (imports of any module included)."""
    tree = _parse(source)
    if tree is None:
        return []
    found = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in REFERENCE_NAMES]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom | ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[-1] in REFERENCE_NAMES]
        elif isinstance(node, ast.Attribute) and node.attr in REFERENCE_NAMES:
            found.append(node.attr)
    return found


def student_edition(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, Edition]:
    """A copy of ``nb`` without ``solution`` and ``reference`` cells, without the reference helpers in its imports,
    and without any stored output (see the module docstring). ``nb`` itself is not changed.

    Raises TypeError if ``nb`` is not a notebook (a mapping with a list of cells), and ValueError if a cell that is
    kept still uses ``solution`` or ``show_solution``.
    """
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise TypeError(f"nb: expected a notebook (a NotebookNode with a list of cells), got {type(nb).__name__}")
    out = copy.deepcopy(nb)
    kept, removed, exercises, stripped = [], 0, 0, 0
    for index, cell in enumerate(out.cells):
        cell_tags = tags(cell)
        if any(tag in cell_tags for tag in REMOVED):
            removed += 1
            continue
        if cell.get("cell_type") == "code":
            cell["source"], changed = strip_reference_imports(cell["source"])
            stripped += changed
            uses = reference_uses(cell["source"])
            if uses:
                raise ValueError(
                    f"nb: cell {index} (id {cell.get('id')}) is not tagged {SOLUTION!r} or {REFERENCE!r} but uses "
                    f"{sorted(set(uses))}; "
                    "the student edition would give the reference away or fail"
                )
            cell["outputs"] = []
            cell["execution_count"] = None
            exercises += EXERCISE in cell_tags
        kept.append(cell)
    out.cells = kept
    out.metadata.pop("widgets", None)  # stored widget views belong to the removed outputs
    return out, Edition(removed, exercises, stripped)


def write_student_edition(notebooks: list[Path], out: Path) -> dict[Path, Edition]:
    """Write the student edition of each notebook into the folder ``out``; returns {written file: what was done}.

    Raises ValueError if ``out`` is the folder of one of the notebooks (the originals would be overwritten) or if a
    notebook is not a .ipynb file.
    """
    out = Path(out)
    for path in notebooks:
        if Path(path).suffix != ".ipynb":
            raise ValueError(f"notebooks: expected .ipynb files, got {path}")
        if out.resolve() == Path(path).resolve().parent:
            raise ValueError(f"out: must differ from the notebooks' own folder, got {out}")
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        try:
            student, edition = student_edition(nb)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
        nbformat.validate(student)
        target = out / Path(path).name
        nbformat.write(student, target)
        written[target] = edition
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks (default: notebooks/NN_*.ipynb)")
    parser.add_argument("--out", type=Path, default=ROOT / "student", help="folder for the student edition")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        parser.error("no notebooks given or found in notebooks/")
    try:
        written = write_student_edition(notebooks, args.out)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for target, edition in written.items():
        removed = edition.solutions_removed
        print(f"{target}: {removed} cells with reference solutions removed, {edition.exercises} exercises")
    print(f"student edition of {len(written)} notebooks in {args.out} (outputs cleared: run them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
