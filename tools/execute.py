"""Execute notebooks headlessly with nbclient: the one executor behind `make run`, `make execute` and the tests.

    python tools/execute.py --inplace NOTEBOOK...              # save the outputs in place (make execute)
    python tools/execute.py --output-dir DIR NOTEBOOK...       # executed copies and logs in DIR (make run)

Each notebook runs top to bottom in a fresh kernel started in the notebook's own folder (so ``../data`` resolves),
with a timeout per cell; widget state is stored in the notebook, as JupyterLab stores it. One line per notebook
(name, ok or FAILED, wall seconds) and a total go to stdout. With ``--keep-going`` every notebook runs even after
a failure (the error goes to ``DIR/NAME.log``); the exit status is 1 if any failed.

:func:`reply_delays` says, from the timestamps nbclient records, how long the executor took to start the next cell
after the kernel had finished one: a cell whose reply is missed shows up there as a delay of the whole timeout.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

__all__ = ["execute", "reply_delays", "main"]

DEFAULT_TIMEOUT = 600  # seconds per cell


def execute(
    path: str | Path, timeout: float = DEFAULT_TIMEOUT, nb: nbformat.NotebookNode | None = None
) -> nbformat.NotebookNode:
    """The notebook at ``path`` executed in a fresh kernel started in its folder; returns it (nothing is written).

    ``nb``: the notebook already read from ``path``, executed in place (so that after a failure it holds the
    outputs up to the failing cell).
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4) if nb is None else nb
    kernel = nb.metadata.get("kernelspec", {}).get("name", "python3")
    client = NotebookClient(
        nb, timeout=timeout, kernel_name=kernel, resources={"metadata": {"path": str(path.resolve().parent)}}
    )
    client.execute()
    return nb


def _time(cell: nbformat.NotebookNode, key: str) -> datetime | None:
    stamp = cell.get("metadata", {}).get("execution", {}).get(key)
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None


def reply_delays(nb: nbformat.NotebookNode) -> list[tuple[int, float]]:
    """(index of a code cell, seconds from the kernel going idle after it to the kernel starting the next one) for
    each executed code cell that has a successor. Both times come from the kernel's own messages."""
    delays, previous = [], None
    for index, cell in enumerate(nb.cells):
        busy, idle = _time(cell, "iopub.status.busy"), _time(cell, "iopub.status.idle")
        if busy is None or idle is None:
            continue
        if previous is not None:
            delays.append((previous[0], (busy - previous[1]).total_seconds()))
        previous = (index, idle)
    return delays


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="notebooks to execute, in this order")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--inplace", action="store_true", help="save each executed notebook over itself")
    where.add_argument("--output-dir", type=Path, help="write the executed copies (and logs of failures) here")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per cell (default: %(default)s)"
    )
    parser.add_argument("--keep-going", action="store_true", help="go on after a notebook fails")
    args = parser.parse_args(argv)
    if args.output_dir is not None:
        args.output_dir.mkdir(parents=True, exist_ok=True)
    width = max(len(str(p)) for p in args.notebooks) + 2
    failed, start = [], time.perf_counter()
    for path in args.notebooks:
        began = time.perf_counter()
        target = path if args.inplace else args.output_dir / path.name
        nb = nbformat.read(path, as_version=4)
        try:
            execute(path, args.timeout, nb)
            status = "ok"
        except Exception as err:  # an error in a cell, a timeout, a dead kernel: reported, never hidden
            status = "FAILED"
            failed.append(path)
            if args.output_dir is not None:  # the partly executed copy goes beside its log
                log = args.output_dir / f"{path.stem}.log"
                log.write_text("".join(traceback.format_exception(err)), encoding="utf-8")
                nbformat.write(nb, target)
            else:
                traceback.print_exception(err, file=sys.stderr)
        else:
            nbformat.write(nb, target)
        print(f"{str(path):<{width}} {status:<6} {time.perf_counter() - began:7.1f} s", flush=True)
        if failed and not args.keep_going:
            break
    print(f"{'total':<{width}} {'':<6} {time.perf_counter() - start:7.1f} s", flush=True)
    if failed:
        print(f"failed: {' '.join(map(str, failed))}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
