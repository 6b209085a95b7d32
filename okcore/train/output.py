"""Where a command-line run is written: the ``--out`` file is claimed before training and the run is never lost.

:class:`RunOutput` creates the temporary file the run will be written to as soon as the command starts, so that an
``--out`` where no file can be created is refused before any training. If the final write still fails (a full disk,
a folder removed meanwhile), :meth:`RunOutput.save` writes the run in the working directory instead, or else in the
system's temporary folder, and says where.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from okcore.train.runs import check_out_path, write_json

__all__ = ["RunOutput", "fallback_folders", "report_saved"]


def fallback_folders() -> list[Path]:
    """Where a run goes when its ``--out`` cannot be written: the working directory, then the temporary folder."""
    folders = []
    try:
        folders.append(Path.cwd())
    except OSError:  # the working directory was removed
        pass
    folders.append(Path(tempfile.gettempdir()))
    return folders


def _free_name(folder: Path, name: str, suffixes: tuple[str, ...]) -> Path:
    """``folder / name``, or ``stem-2.json`` and so on, such that no file with any of ``suffixes`` exists yet."""
    stem, suffix = Path(name).stem, Path(name).suffix
    for i in range(1, 10_000):
        candidate = folder / (name if i == 1 else f"{stem}-{i}{suffix}")
        if not any(candidate.with_suffix(s).exists() for s in (suffix, *suffixes)):
            return candidate
    raise OSError(f"no free file name like {name!r} in {str(folder)!r}")


class RunOutput:
    """The output file of a run, claimed by creating its temporary file at once.

    Raises ValueError naming ``--out`` when the path is a folder, its folder is missing or not writable, or no
    file can be created there. Use as a context manager, or call :meth:`close`, to remove the temporary file
    when the run ends without being saved.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = check_out_path(path)
        folder = self.path.parent if str(self.path.parent) else Path(".")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
        except OSError as err:
            raise ValueError(
                f"--out: expected a path where a file can be created, got {str(path)!r} "
                f"({err.strerror or err} when creating a file in {str(folder)!r})"
            ) from None
        os.close(fd)
        self._tmp: Path | None = Path(tmp)

    def __enter__(self) -> RunOutput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the temporary file if it is still there."""
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None

    def write_json(self, record: dict, path: Path | None = None) -> None:
        """Write ``record`` as JSON to ``path`` (default: the ``--out`` file, through the claimed temporary file);
        the file appears whole or not at all."""
        if path is not None and path != self.path:
            write_json(path, record)
            return
        if self._tmp is None:
            raise OSError(f"the temporary file of {str(self.path)!r} is gone")
        tmp = self._tmp
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1)
            f.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.path)
        self._tmp = None

    def save(self, write: Callable[[Path], None], suffixes: tuple[str, ...] = ()) -> tuple[Path, str | None]:
        """Call ``write(path)`` with the ``--out`` path; if that raises OSError, with a free path of the same name
        in each of :func:`fallback_folders` in turn (``suffixes``: other files written beside it, such as
        ``.npz``, whose names must be free too).

        Returns (where the run was written, None) or (the fallback path, why ``--out`` failed). Raises OSError if
        no place could be written.
        """
        try:
            write(self.path)
            return self.path, None
        except OSError as err:
            problem = str(err.strerror or err)
        self.close()
        tried = []
        for folder in fallback_folders():
            try:
                path = _free_name(folder, self.path.name, suffixes)
                write(path)
                return path, problem
            except OSError as err:
                tried.append(f"{str(folder)!r} ({err.strerror or err})")
        raise OSError(f"could not write {str(self.path)!r} ({problem}), nor in {' or '.join(tried)}")


def report_saved(out: RunOutput, saved: Path, problem: str | None) -> None:
    """One line on stderr when the run went somewhere else than ``--out``."""
    if problem is not None:
        where = str(saved)
        print(
            f"error: --out: could not write {str(out.path)!r} ({problem}); the run is saved as {where!r}",
            file=sys.stderr,
        )
