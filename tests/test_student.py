"""The student edition (tools/student.py): reference solutions removed, nothing given away, and robust to learners.

Static checks parse the notebooks (cheap). The one execution of the student edition in the test suite is the
junk-names run: every student notebook runs top to bottom with each exercise cell followed by a cell that binds
junk values to the names its prompt mentions, the names the exercise cell binds, the workbook's common names (w, mu,
P, r, Y, G, H, A, u, s, answer, ...), every name the cells before it bound, every function the notebook imports and
every function the text shows being called, so that a later cell that relies on such a name fails. The same run
checks every figure the notebook draws with okcore.plotting.check_figure (tick labels that collide, legends on
data, clipped points): an IPython startup file in the kernel wraps the canvas's print_figure, which every shown
or saved figure passes through, and logs what the check finds.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_names import COMMON_NAMES, called_names, cell_names, import_kinds, parse, prompt_names  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
# The notebooks whose exercise cells are followed by junk names in the run below. The others run as they are.
JUNK_NOTEBOOKS = {f"{i:02d}" for i in range(14)}  # every notebook
CELL_TIMEOUT = 300
NOTEBOOK_TIMEOUT = 600
CHECK_KEY = re.compile(r"""\bcheck\(\s*["'](\d\d\.\d+)["']""")


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


def removed(cell) -> bool:
    """Whether the student edition leaves the cell out (a reference solution, or a cell that shows one)."""
    return has_tag(cell, "solution") or has_tag(cell, "reference")


# --- the tool on a small notebook -----------------------------------------------------------------------------


def small_notebook() -> nbformat.NotebookNode:
    """Imports, prose, an exercise with a stored answer, its solution, a plain cell, and a solution in markdown."""
    v4 = nbformat.v4
    cells = [
        v4.new_code_cell(
            "%matplotlib inline\nfrom okcore.exercises import check, show_solution, solution\nimport numpy as np",
            execution_count=1,
        ),
        v4.new_markdown_cell("**Exercise.** Give 2."),
        v4.new_code_cell(
            "answer = None\ncheck(answer)",
            execution_count=2,
            outputs=[v4.new_output("stream", name="stdout", text="not yet: give a number\n")],
            metadata={"tags": ["exercise"]},
        ),
        v4.new_code_cell(
            "answer = solution('00.1')\ncheck(answer)",
            execution_count=3,
            outputs=[v4.new_output("stream", name="stdout", text="correct\n")],
            metadata={"tags": ["solution"], "jupyter": {"source_hidden": True}},
        ),
        v4.new_code_cell(
            "1 + 1",
            execution_count=4,
            outputs=[v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=4)],
            metadata={"tags": ["nbval-ignore-output"]},
        ),
        v4.new_markdown_cell("The answer is 2.", metadata={"tags": ["solution"]}),
        v4.new_code_cell("print(solution('00.1'))", metadata={"tags": ["reference"]}),
    ]
    metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3"}, "widgets": {"state": {}}}
    return v4.new_notebook(cells=cells, metadata=metadata)


def test_solutions_removed_outputs_cleared_imports_stripped_rest_unchanged():
    nb = small_notebook()
    original = nbformat.writes(nb)
    out, edition = student.student_edition(nb)
    assert nbformat.writes(nb) == original, "the input notebook was changed"
    assert edition == student.Edition(solutions_removed=3, exercises=1, imports_stripped=1)
    assert [cell.id for cell in out.cells] == [nb.cells[i].id for i in (0, 1, 2, 4)]
    assert out.cells[0].source == "%matplotlib inline\nfrom okcore.exercises import check\nimport numpy as np"
    for cell in out.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert [cell.source for cell in out.cells[1:]] == [nb.cells[i].source for i in (1, 2, 4)]
    assert [cell.metadata for cell in out.cells] == [nb.cells[i].metadata for i in (0, 1, 2, 4)]
    assert "widgets" not in out.metadata and out.metadata.kernelspec == nb.metadata.kernelspec
    nbformat.validate(out)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from okcore.exercises import solution\nx = 1", "x = 1"),
        ("from okcore.exercises import check, solution as s", "from okcore.exercises import check"),
        (
            "from okcore.exercises import (\n    check,\n    show_solution,\n)\ny = 2",
            "from okcore.exercises import check\ny = 2",
        ),
        ("from okcore.exercises.nb03 import exercise_step", "from okcore.exercises.nb03 import exercise_step"),
        ("x = 1  # no imports", "x = 1  # no imports"),
    ],
)
def test_reference_imports_are_stripped(source, expected):
    assert student.strip_reference_imports(source)[0] == expected


def test_a_kept_cell_that_uses_the_reference_is_refused():
    nb = small_notebook()
    nb.cells[4].source = "print(solution('00.1'))"
    with pytest.raises(ValueError, match="uses \\['solution'\\]"):
        student.student_edition(nb)


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(TypeError, match="nb: expected a notebook"):
        student.student_edition(["not", "a", "notebook"])
    path = tmp_path / "a.ipynb"
    nbformat.write(small_notebook(), path)
    with pytest.raises(ValueError, match="out: must differ"):
        student.write_student_edition([path], tmp_path)
    with pytest.raises(ValueError, match="expected .ipynb"):
        student.write_student_edition([tmp_path / "a.txt"], tmp_path / "student")


def test_command_line_writes_the_edition(tmp_path, capsys):
    assert student.main(["--out", str(tmp_path / "student"), *map(str, NOTEBOOKS[:2])]) == 0
    assert sorted(p.name for p in (tmp_path / "student").iterdir()) == [nb.name for nb in NOTEBOOKS[:2]]
    assert "student edition of 2 notebooks" in capsys.readouterr().out


# --- static checks of the workbook's student edition (parsing only) ---------------------------------------


def edition_of(notebook: Path) -> nbformat.NotebookNode:
    return student.student_edition(nbformat.read(notebook, as_version=4))[0]


def exercise_prompt(cells: list, index: int) -> str:
    """The markdown cells right before the exercise cell ``cells[index]``: its prompt."""
    prompt = []
    j = index - 1
    while j >= 0 and cells[j].cell_type == "markdown":
        prompt.insert(0, cells[j].source)
        j -= 1
    return "\n".join(prompt)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_edition_keeps_every_other_cell_and_clears_outputs(notebook):
    original = nbformat.read(notebook, as_version=4)
    copy = edition_of(notebook)
    kept = [cell for cell in original.cells if not removed(cell)]
    assert [cell.id for cell in copy.cells] == [cell.id for cell in kept]
    for ours, theirs in zip(copy.cells, kept, strict=True):
        assert ours.metadata == theirs.metadata
        if ours.cell_type == "code":
            assert ours.outputs == [] and ours.execution_count is None
            assert ours.source == student.strip_reference_imports(theirs.source)[0]
        else:
            assert ours == theirs


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_edition_gives_no_reference_away(notebook):
    """Nothing uses solution/show_solution or a private name of okcore.exercises (its reference functions are
    private); every exercise cell calls check; no kept cell reads a name that only a removed solution cell binds."""
    original = nbformat.read(notebook, as_version=4)
    cells = edition_of(notebook).cells
    solution_binds: set[str] = set()
    for cell in original.cells:
        if cell.cell_type == "code" and removed(cell):
            solution_binds |= cell_names(cell.source).binds
    bound: set[str] = set()
    for cell in cells:
        if cell.cell_type != "code":
            continue
        assert not student.reference_uses(cell.source), f"cell {cell.id} uses the reference"
        for node in ast.walk(parse(cell.source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("okcore.exercises"):
                private = [alias.name for alias in node.names if alias.name.startswith("_")]
                assert not private, f"cell {cell.id} imports {private} from {node.module}"
        names = cell_names(cell.source)
        from_solutions = (names.reads - bound) & solution_binds
        assert not from_solutions, f"cell {cell.id} reads {sorted(from_solutions)}, bound only in a solution cell"
        bound |= names.binds
        if has_tag(cell, "exercise"):
            assert CHECK_KEY.search(cell.source), f"exercise cell {cell.id} does not call check"


@pytest.mark.parametrize("notebook", [nb for nb in NOTEBOOKS if nb.name[:2] in JUNK_NOTEBOOKS], ids=lambda p: p.stem)
def test_exercise_cells_show_only_the_message_and_no_cell_announces_what_a_check_accepts(notebook):
    """An exercise cell ends with ``_ = check(...)``, so that Jupyter does not echo the True/False that check
    returns under its message (a trailing ``;`` would do it in JupyterLab, but not where cells run without storing
    history, as under nbval); and no comment of a kept code cell tells which answers an exercise accepts (a
    measuring cell asserts its own range, but does not announce it as the answer before the reader has given one)."""
    for cell in edition_of(notebook).cells:
        if cell.cell_type != "code":
            continue
        if has_tag(cell, "exercise"):
            last = cell.source.rstrip().splitlines()[-1]
            assert re.fullmatch(r"_ = check\(.*\)", last), f"exercise cell {cell.id} ends with {last!r}"
            continue
        for comment in re.findall(r"#(.*)$", cell.source, flags=re.M):
            announces = re.search(r"\b(accept|pass)", comment) and re.search(r"\b(range|prediction)", comment)
            assert not announces, f"cell {cell.id}: the comment {comment.strip()!r} tells what an exercise accepts"


def build_exercises(cells: list) -> list[tuple[int, str, str]]:
    """(index, key, function name) of the exercise cells that ask for a function (a skeleton with a def)."""
    out = []
    for index, cell in enumerate(cells):
        if cell.cell_type == "code" and has_tag(cell, "exercise"):
            defs = [n.name for n in parse(cell.source).body if isinstance(n, ast.FunctionDef)]
            if defs:
                out.append((index, CHECK_KEY.search(cell.source).group(1), defs[0]))
    return out


@pytest.mark.parametrize("notebook", [nb for nb in NOTEBOOKS if nb.name[:2] in JUNK_NOTEBOOKS], ids=lambda p: p.stem)
def test_after_a_build_exercise_the_learners_function_runs(notebook):
    """After an exercise that asks for a function, a later cell runs the learner's own function, taken from
    ``accepted(key)`` (never from a name the learner may rebind), and no cell before it defines a function: the
    version of the step the student edition shows is the learner's."""
    cells = edition_of(notebook).cells
    for index, key, name in build_exercises(cells):
        later = [c for c in cells[index + 1 :] if c.cell_type == "code"]
        runs = [i for i, c in enumerate(later) if re.search(rf"""\baccepted\(\s*["']{re.escape(key)}["']""", c.source)]
        assert runs, f"no cell runs the learner's {name} of exercise {key}"
        for c in later[: runs[0]]:
            defs = [n.name for n in parse(c.source).body if isinstance(n, ast.FunctionDef)]
            assert not defs or has_tag(c, "exercise"), f"cell {c.id} defines {defs} after exercise {key}"


# --- the one execution: every student notebook, with junk names after each exercise ---------------------------

JUNK_CELL = """\
class _Junk:
    # A value that fails wherever it is used: a later cell that reads one of the names below breaks.
    def __repr__(self):
        return "<junk>"

    def __getattr__(self, name):
        raise AttributeError(f"junk has no attribute {name!r}")

    def _fail(self, *args, **kwargs):
        raise TypeError("a junk value was used")

    __call__ = __getitem__ = __setitem__ = __iter__ = __len__ = __bool__ = __array__ = __index__ = _fail
    __int__ = __float__ = __neg__ = __abs__ = __format__ = __contains__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __matmul__ = __rmatmul__ = _fail
    __truediv__ = __rtruediv__ = __pow__ = __rpow__ = __lt__ = __le__ = __gt__ = __ge__ = _fail


NAMES = _Junk()
del _Junk
"""


# Names a learner's cell never rebinds without breaking the notebook for everyone, the learner's own cells included:
# the exercise helpers. Imported modules (np, plt, okcore, ksums, ...) and classes (GatedCell, UORO, ...) are not
# rebound either; every other name is fair game, imported functions included (a learner who writes a helper called
# uoro_rho or rearrange shadows the one the notebook imported).
FRAMEWORK = frozenset({"check", "accepted"})


def junk_names(cells: list, index: int, kinds: dict[str, str]) -> list[str]:
    """The names bound to junk after the exercise cell ``cells[index]``: the workbook's common names, those its
    prompt mentions, those it binds, every name an earlier cell binds (the notebook's own variables and functions),
    every function or constant the notebook imports, and every function the text before it shows being called.
    ``kinds``: what each imported name of the notebook is (see notebook_names.import_kinds)."""
    names = COMMON_NAMES | prompt_names(exercise_prompt(cells, index)) | cell_names(cells[index].source).binds
    for cell in cells[:index]:
        if cell.cell_type == "code":
            found = cell_names(cell.source)
            names |= found.binds - found.imports
        else:
            names |= called_names(cell.source)
    names |= {name for name, kind in kinds.items() if kind == "other"}
    protected = FRAMEWORK | {name for name, kind in kinds.items() if kind in ("module", "class")}
    return sorted(name for name in names - protected if name.isidentifier() and not name.startswith("_"))


def with_junk(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int]:
    """``nb`` with a junk cell after each exercise cell; returns it and the number of junk cells."""
    kinds: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            kinds |= import_kinds(cell.source)
    cells, count = [], 0
    for index, cell in enumerate(nb.cells):
        cells.append(cell)
        if cell.cell_type == "code" and has_tag(cell, "exercise"):
            names = " = ".join(junk_names(nb.cells, index, kinds))
            cells.append(nbformat.v4.new_code_cell(JUNK_CELL.replace("NAMES", names), metadata={"tags": ["junk"]}))
            count += 1
    out = nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)
    return out, count


def test_junk_names_cover_earlier_variables_imported_functions_and_the_texts_calls():
    v4 = nbformat.v4
    cells = [
        v4.new_code_cell("import numpy as np\nfrom okcore import GatedCell\nfrom okcore.demos.uoro import uoro_rho"),
        v4.new_code_cell("example = (1, 2)\ndef helper(x):\n    return x"),
        v4.new_markdown_cell("Write `uoro_update(s, theta)` and keep `rho_rule(a)` in mind."),
        v4.new_code_cell("answer = None\ncheck('04.4', answer)", metadata={"tags": ["exercise"]}),
    ]
    kinds = import_kinds(cells[0].source)
    names = junk_names(cells, 3, kinds)
    assert {"example", "helper", "uoro_rho", "uoro_update", "rho_rule", "answer", "w"} <= set(names)
    assert not {"np", "GatedCell", "check", "accepted"} & set(names)


def test_junk_cell_fails_on_use():
    namespace: dict = {}
    exec(JUNK_CELL.replace("NAMES", "w = mu"), namespace)  # noqa: S102 - the test's own code
    for use in ("w + 1", "w @ w", "w[0]", "w.shape", "len(w)", "float(mu)", "f'{w}'", "bool(w)", "list(w)", "w()"):
        with pytest.raises((TypeError, AttributeError)):
            eval(use, namespace)  # noqa: S307 - the test's own code
    assert repr(namespace["w"]) == "<junk>" and namespace["w"] is not None


# Run by the kernel at start (IPython startup file): every figure printed (shown inline or saved) is checked first.
FIGURE_CHECK = """
import json as _json, os as _os
import matplotlib.backend_bases as _backend_bases
from okcore import plotting as _plotting

_print_figure = _backend_bases.FigureCanvasBase.print_figure


def _print_checked_figure(self, *args, **kwargs):
    problems = _plotting.check_figure(self.figure)
    if problems:
        titles = [ax.get_title() for ax in self.figure.axes]
        with open(_os.environ["OKCORE_FIGURE_LOG"], "a", encoding="utf-8") as log:
            log.write(_json.dumps({"titles": titles, "problems": problems}) + "\\n")
    return _print_figure(self, *args, **kwargs)


_backend_bases.FigureCanvasBase.print_figure = _print_checked_figure
"""


def figure_check_environment(folder: Path) -> dict[str, str]:
    """Environment variables under which a kernel checks each figure it prints and logs the problems in
    ``folder / "figures.jsonl"``."""
    startup = folder / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-okcore-figure-check.py").write_text(FIGURE_CHECK, encoding="utf-8")
    return {"IPYTHONDIR": str(folder / "ipython"), "OKCORE_FIGURE_LOG": str(folder / "figures.jsonl")}


def figure_problems(folder: Path) -> list[dict]:
    log = folder / "figures.jsonl"
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def test_the_figure_check_reports_a_bad_figure_and_passes_a_good_one(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%matplotlib inline\nimport matplotlib.pyplot as plt"),
        nbformat.v4.new_code_cell("fig, ax = plt.subplots()\nax.plot([0, 1], [0, 1])\nplt.show()"),
        nbformat.v4.new_code_cell(
            "fig, ax = plt.subplots(figsize=(2, 2))\nax.plot(range(100))\nax.set_xticks(range(0, 100, 2))\nplt.show()"
        ),
    ]
    nbformat.write(nb, tmp_path / "figures.ipynb")
    env = {**os.environ, **figure_check_environment(tmp_path)}
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval-lax", "--nbval-current-env"]
    proc = subprocess.run(cmd + ["figures.ipynb"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    (found,) = figure_problems(tmp_path)  # the second figure only
    assert any("tick label" in p and "overlaps" in p for p in found["problems"])


@pytest.mark.timeout(NOTEBOOK_TIMEOUT + 60)
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_student_edition_runs_with_junk_names_after_each_exercise(tmp_path, notebook):
    """The student copy, with junk names after each exercise of the notebooks in JUNK_NOTEBOOKS, run by nbval in lax
    mode in its own process: every cell must run without an error (the unanswered checkers report rather than raise,
    and no later cell depends on a name a learner may rebind); stored outputs are not compared (there are none).
    Every figure it draws passes okcore.plotting.check_figure."""
    # A tree like the repository's, with the student copy in place of notebooks/: paths such as ../data/... resolve
    # as they do for the originals (nbval runs a notebook from its own folder).
    for entry in ROOT.iterdir():
        if entry.name != "notebooks":
            (tmp_path / entry.name).symlink_to(entry)
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for entry in NOTEBOOK_DIR.iterdir():
        if entry.is_file() and entry.suffix != ".ipynb":
            shutil.copy2(entry, folder / entry.name)
    nb = edition_of(notebook)
    if notebook.name[:2] in JUNK_NOTEBOOKS:
        nb, count = with_junk(nb)
        assert count == sum(has_tag(c, "exercise") for c in nb.cells)
    nbformat.write(nb, folder / notebook.name)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval-lax", "--nbval-current-env"]
    cmd += [f"--nbval-cell-timeout={CELL_TIMEOUT}", "--rootdir", str(folder), notebook.name]
    # One BLAS thread per notebook: the notebooks run side by side (one per pytest-xdist worker) on a small machine,
    # where extra BLAS threads mostly spin and add processor time.
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env |= figure_check_environment(tmp_path)
    try:
        proc = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=NOTEBOOK_TIMEOUT)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"the student edition of {notebook.name} did not finish in {err.timeout:.0f} s")
    assert proc.returncode == 0, f"the student edition of {notebook.name} failed:\n{proc.stdout[-8000:]}"
    assert not figure_problems(tmp_path), f"figures of {notebook.name} that fail the check: {figure_problems(tmp_path)}"
