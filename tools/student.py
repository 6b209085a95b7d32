"""Write the student edition of the workbook: the notebooks without their reference solutions.

    python tools/student.py [--out student] [NOTEBOOK.ipynb ...]

In every notebook (default: notebooks/NN_*.ipynb) each cell tagged ``solution`` is removed and each cell tagged
``exercise`` loses its outputs and execution count, so the learner sees the skeleton and the checker without
the stored "correct". Everything else (other cells, their outputs, ids and metadata, the notebook's metadata) is
kept as it is. The copies go into one folder beside notebooks/, so paths relative to a notebook still resolve.
"""

from __future__ import annotations

import argparse
import copy
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = "solution"
EXERCISE = "exercise"


@dataclass(frozen=True)
class Edition:
    """What :func:`student_edition` did to one notebook."""

    solutions_removed: int
    exercises_cleared: int


def tags(cell: nbformat.NotebookNode) -> list[str]:
    """The cell's tags (an empty list when it has none)."""
    return list(cell.get("metadata", {}).get("tags", []))


def student_edition(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, Edition]:
    """A copy of ``nb`` with the ``solution`` cells removed and the outputs of ``exercise`` cells cleared.

    ``nb`` itself is not changed. Raises TypeError if ``nb`` is not a notebook (a mapping with a list of cells).
    """
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise TypeError(f"nb: expected a notebook (a NotebookNode with a list of cells), got {type(nb).__name__}")
    out = copy.deepcopy(nb)
    kept, removed, cleared = [], 0, 0
    for cell in out.cells:
        cell_tags = tags(cell)
        if SOLUTION in cell_tags:
            removed += 1
            continue
        if EXERCISE in cell_tags and cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
            cleared += 1
        kept.append(cell)
    out.cells = kept
    return out, Edition(removed, cleared)


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
        student, edition = student_edition(nb)
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
    written = write_student_edition(notebooks, args.out)
    for target, edition in written.items():
        print(
            f"{target}: {edition.solutions_removed} solution cells removed, "
            f"{edition.exercises_cleared} exercise cells cleared"
        )
    print(f"student edition of {len(written)} notebooks in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
