"""The static book (tools/book/build.py): one page per notebook, a landing page, and nothing loaded from the network.

Building needs the book's JavaScript installed (`npm ci --prefix tools/book`, done by `make book` and `make test`).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def load_builder():
    """tools/book/build.py as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("okcore_book_build", ROOT / "tools" / "book" / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    builder = load_builder()
    if not (builder.NODE_MODULES / "mathjax").is_dir():
        pytest.fail("the book's JavaScript is not installed: run `npm ci --prefix tools/book` (make test does)")
    out = tmp_path_factory.mktemp("book") / "site"
    builder.build(out, ROOT / "notebooks", ROOT / "README.md")
    return out


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(page: Path) -> list[tuple[str, dict[str, str | None]]]:
    """Every start tag of an HTML file with its attributes, in order."""
    parser = _Tags()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.tags


def urls(page: Path) -> list[str]:
    """What the page links or loads: href of <a> and <link>, src of <script> and <img>."""
    wanted = {"a": "href", "link": "href", "script": "src", "img": "src"}
    return [attrs[wanted[tag]] for tag, attrs in tags(page) if tag in wanted and attrs.get(wanted[tag])]


def test_a_page_per_notebook_and_a_landing_page_linking_them(site):
    links = set(urls(site / "index.html"))
    for notebook in NOTEBOOKS:
        page = site / f"{notebook.stem}.html"
        assert page.is_file(), f"no page for {notebook.name}"
        assert page.name in links, f"the landing page does not link {page.name}"
    assert "Run it yourself" in (site / "index.html").read_text(encoding="utf-8"), "no section on running it"


def test_nothing_is_loaded_from_the_network(site):
    for page in site.glob("*.html"):
        loaded = [
            attrs.get("src") or attrs.get("href")
            for tag, attrs in tags(page)
            if tag in ("script", "link", "img", "iframe")
        ]
        remote = [url for url in loaded if url and re.match(r"(https?:)?//", url)]
        assert not remote, f"{page.name} loads {remote}"
        text = page.read_text(encoding="utf-8")
        for cdn in ("cdn.jsdelivr", "cdnjs", "unpkg.com"):
            assert cdn not in text, f"{page.name} mentions {cdn}"


def test_local_links_and_assets_exist(site):
    for page in site.glob("*.html"):
        for url in urls(page):
            if re.match(r"[a-z]+:|#|//", url):
                continue
            path = url.split("#", 1)[0]
            assert not path.endswith(".ipynb"), f"{page.name} links the notebook file {url}"
            assert (site / path).is_file(), f"{page.name} links {url}, which is not in the site"


def test_solutions_are_folded_and_pages_are_chained(site):
    for i, notebook in enumerate(NOTEBOOKS):
        nb = nbformat.read(notebook, as_version=4)
        page = tags(site / f"{notebook.stem}.html")
        solutions = sum("solution" in cell.metadata.get("tags", []) for cell in nb.cells)
        folded = [attrs for tag, attrs in page if tag == "details" and "okcore-solution" in attrs.get("class", "")]
        assert len(folded) == solutions, notebook.name
        rel = {attrs.get("rel"): attrs.get("href") for tag, attrs in page if tag == "a" and attrs.get("rel")}
        assert rel.get("prev") == (f"{NOTEBOOKS[i - 1].stem}.html" if i > 0 else None), notebook.name
        assert rel.get("next") == (f"{NOTEBOOKS[i + 1].stem}.html" if i + 1 < len(NOTEBOOKS) else None), notebook.name
