"""The student edition (tools/student.py): reference solutions removed, exercise outputs cleared, all else the same,
and every notebook of it runs top to bottom with the exercises unanswered."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
CELL_TIMEOUT = 600


def load_tool():
    """tools/student.py as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("okcore_student", ROOT / "tools" / "student.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


student = load_tool()


def has_tag(cell, tag: str) -> bool:
    return tag in cell.get("metadata", {}).get("tags", [])


def small_notebook() -> nbformat.NotebookNode:
    """Prose, an exercise with a stored answer, its solution, a plain cell, and a solution in markdown."""
    v4 = nbformat.v4
    cells = [
        v4.new_markdown_cell("**Exercise.** Give 2."),
        v4.new_code_cell(
            "answer = None\ncheck(answer)",
            execution_count=1,
            outputs=[v4.new_output("stream", name="stdout", text="not yet: give a number\n")],
            metadata={"tags": ["exercise"]},
        ),
        v4.new_code_cell(
            "answer = 2\ncheck(answer)",
            execution_count=2,
            outputs=[v4.new_output("stream", name="stdout", text="correct\n")],
            metadata={"tags": ["solution"], "jupyter": {"source_hidden": True}},
        ),
        v4.new_code_cell(
            "1 + 1",
            execution_count=3,
            outputs=[v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=3)],
            metadata={"tags": ["nbval-ignore-output"]},
        ),
        v4.new_markdown_cell("The answer is 2.", metadata={"tags": ["solution"]}),
    ]
    nb = v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    return nb


def test_solutions_removed_exercises_cleared_rest_unchanged():
    nb = small_notebook()
    original = nbformat.writes(nb)
    out, edition = student.student_edition(nb)
    assert nbformat.writes(nb) == original, "the input notebook was changed"
    assert edition == student.Edition(solutions_removed=2, exercises_cleared=1)
    assert [cell.id for cell in out.cells] == [nb.cells[i].id for i in (0, 1, 3)]
    exercise = out.cells[1]
    assert exercise.outputs == [] and exercise.execution_count is None
    assert exercise.source == nb.cells[1].source and exercise.metadata == nb.cells[1].metadata
    assert out.cells[0] == nb.cells[0] and out.cells[2] == nb.cells[3]
    assert out.metadata == nb.metadata
    nbformat.validate(out)


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(TypeError, match="nb: expected a notebook"):
        student.student_edition(["not", "a", "notebook"])
    path = tmp_path / "a.ipynb"
    nbformat.write(small_notebook(), path)
    with pytest.raises(ValueError, match="out: must differ"):
        student.write_student_edition([path], tmp_path)
    with pytest.raises(ValueError, match="expected .ipynb"):
        student.write_student_edition([tmp_path / "a.txt"], tmp_path / "student")


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> Path:
    """The student edition of the workbook, written by the command-line tool as `make student` does."""
    out = tmp_path_factory.mktemp("student")
    assert student.main(["--out", str(out), *map(str, NOTEBOOKS)]) == 0
    return out


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_workbook_edition_has_no_solutions_and_is_otherwise_the_same(edition, notebook):
    original = nbformat.read(notebook, as_version=4)
    copy = nbformat.read(edition / notebook.name, as_version=4)
    kept = [cell for cell in original.cells if not has_tag(cell, "solution")]
    assert [cell.id for cell in copy.cells] == [cell.id for cell in kept]
    for ours, theirs in zip(copy.cells, kept, strict=True):
        assert not has_tag(ours, "solution")
        if has_tag(ours, "exercise") and ours.cell_type == "code":
            assert ours.outputs == [] and ours.execution_count is None, f"exercise cell {ours.id} kept its outputs"
            assert ours.source == theirs.source and ours.metadata == theirs.metadata
        else:
            assert ours == theirs, f"cell {ours.id} changed"
    assert copy.metadata == original.metadata


@pytest.mark.timeout(CELL_TIMEOUT * 2 + 60)
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_workbook_edition_runs_top_to_bottom(tmp_path, notebook):
    """The student copy, run by nbval in lax mode in its own process: every cell must run without an error (so the
    exercise checkers, unanswered, must report rather than raise); stored outputs are not compared."""
    # A tree like the repository's, with the student copy in place of notebooks/: paths such as ../data/... resolve
    # as they do for the originals (nbval runs a notebook from its own folder).
    for entry in ROOT.iterdir():
        if entry.name != "notebooks":
            (tmp_path / entry.name).symlink_to(entry)
    folder = tmp_path / "notebooks"
    student.write_student_edition([notebook], folder)
    for entry in NOTEBOOK_DIR.iterdir():
        if entry.is_file() and entry.suffix != ".ipynb":
            shutil.copy2(entry, folder / entry.name)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval-lax", "--nbval-current-env"]
    cmd += [f"--nbval-cell-timeout={CELL_TIMEOUT}", "--rootdir", str(folder), notebook.name]
    try:
        proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=CELL_TIMEOUT * 2)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"the student edition of {notebook.name} did not finish in {err.timeout:.0f} s")
    assert proc.returncode == 0, f"the student edition of {notebook.name} failed:\n{proc.stdout[-8000:]}"
