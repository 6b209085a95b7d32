"""Make the King James Version corpus in data/corpus/ from Debian's bible-kjv packages.

Run from the repository root on a Debian or Ubuntu machine (amd64), inside .venv:

    python data/corpus/make_kjv.py

It downloads two packages with ``apt-get download`` into a temporary folder (or uses the .deb files in
``--debs DIR``), unpacks them with ``dpkg-deb``, and asks the package's own ``bible`` program to print every verse
from Genesis 1:1 to Revelation 22:21, one per line. The verse references ("Ge1:1 ") are dropped and each verse
becomes one line of text. Chapters are then dealt out to three splits: the chapter with running number c
(counting from 0 over the whole book) goes to validation if c % 20 == 10, to test if c % 20 == 19, and to
training otherwise. So each split samples the whole Bible, and no chapter is cut in two. The splits are written
as gzip files with a zero time stamp, so the same packages give byte-identical files; their SHA-256 sums are
printed and listed in data/README.md.

Nothing in okcore downloads anything: this script is only for making the files again.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGES = ("bible-kjv", "bible-kjv-text")
OUT = Path(__file__).resolve().parent
NAME = "kjv"
SPLITS = ("train", "valid", "test")
REFERENCE = re.compile(r"^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$")


def split_of(chapter_number: int) -> str:
    """Which split the chapter with this running number (from 0) goes to."""
    r = chapter_number % 20
    return "valid" if r == 10 else "test" if r == 19 else "train"


def verses(listing: str) -> list[tuple[str, int, str]]:
    """(book, chapter, text) for each line 'Book<chapter>:<verse> text' of the bible program's output."""
    out = []
    for line in listing.splitlines():
        m = REFERENCE.match(line)
        if m is None:
            raise ValueError(f"unexpected line in the bible program's output: {line[:80]!r}")
        out.append((m.group(1), int(m.group(2)), m.group(4)))
    return out


def split_text(listing: str) -> dict[str, str]:
    """The three splits of the corpus, each one verse per line."""
    parts: dict[str, list[str]] = {s: [] for s in SPLITS}
    chapter_number, current = -1, None
    for book, chapter, text in verses(listing):
        if (book, chapter) != current:
            chapter_number, current = chapter_number + 1, (book, chapter)
        parts[split_of(chapter_number)].append(text)
    return {s: "\n".join(lines) + "\n" for s, lines in parts.items()}


def listing_from_debs(debs: Path, work: Path) -> str:
    """Unpack the two packages under ``work`` and print the whole text with their bible program."""
    root = work / "root"
    for pkg in PACKAGES:
        found = sorted(debs.glob(f"{pkg}_*.deb"))
        if not found:
            raise FileNotFoundError(f"no {pkg}_*.deb in {debs}")
        subprocess.run(["dpkg-deb", "-x", str(found[-1]), str(root)], check=True)
        print(f"unpacked {found[-1].name}  sha256 {hashlib.sha256(found[-1].read_bytes()).hexdigest()}")
    cmd = [str(root / "usr/bin/bible"), "-f", "-p", str(root / "usr/lib"), "gen1:1-rev22:21"]
    done = subprocess.run(cmd, check=True, capture_output=True, encoding="utf-8", stdin=subprocess.DEVNULL)
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--debs", type=Path, help="folder with the .deb files (default: apt-get download them)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        debs = args.debs
        if debs is None:
            debs = work
            subprocess.run(["apt-get", "download", *PACKAGES], check=True, cwd=work)
        listing = listing_from_debs(debs, work)
    parts = split_text(listing)
    for s, text in parts.items():
        path = OUT / f"{NAME}.{s}.txt.gz"
        data = text.encode("utf-8")
        with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f:
            f.write(data)
        print(f"{path.name}: {len(text)} characters, sha256 of the text {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
