"""The static book (tools/book/build.py): one page per notebook, a landing page, and nothing loaded from the network;
then the book in Chromium, served on 127.0.0.1 with every other request aborted.

Building needs the book's JavaScript installed (`npm ci --prefix tools/book`, done by `make book` and `make test`).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import importlib.util
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from browser_support import CHROMIUM_ARGS, INSTALL_HINT, find_chromium

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


# --- in a real browser, offline ------------------------------------------------------------------------------------

# Pages read in the browser: the landing page, a page heavy in maths and figures, and the two with widget views.
BROWSED = ["index.html", "04_uoro.html", "08_ok_optimality_proof.html", "09_noise_explorer.html"]
PAGE_LOAD = 120_000  # ms; generous, for a busy 2-core machine


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the name the base class uses
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A browser that drops a connection mid-file (a page closed while loading) is not an error here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(folder: Path):
    """A plain static HTTP server for ``folder`` on 127.0.0.1 (free port), in a thread; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.browser
@pytest.mark.timeout(600)
def test_book_reads_offline_in_chromium(site, tmp_path):
    """Served on 127.0.0.1 with every other request aborted: maths typeset, figures and widget views drawn, links
    resolving, no JavaScript error. Screenshots go to the test's temporary folder (printed; see them with -s)."""
    chromium = find_chromium()
    if chromium is None:
        pytest.fail(f"Chromium not found. {INSTALL_HINT}", pytrace=False)
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    blocked: list[str] = []
    links: dict[str, str] = {}  # link (without its #anchor) -> the page it was found on
    anchors: list[tuple[str, str]] = []  # (page, id) for every in-page link
    shots: list[Path] = []

    with serve(site) as base, sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True, timeout=60_000)
        except PlaywrightError as err:
            pytest.fail(f"Chromium at {chromium} did not start: {err}\n{INSTALL_HINT}", pytrace=False)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})

        def only_local(route):
            if route.request.url.startswith(base + "/"):
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        context.route("**/*", only_local)
        try:
            for name in BROWSED:
                page = context.new_page()
                page.set_default_timeout(PAGE_LOAD)
                page.on("pageerror", lambda err, name=name: errors.append(f"{name}: {err}"))
                page.on(
                    "console",
                    lambda msg, name=name: msg.type == "error" and errors.append(f"{name}: console: {msg.text}"),
                )
                page.on(
                    "response",
                    lambda response, name=name: (
                        response.status >= 400 and errors.append(f"{name}: HTTP {response.status} for {response.url}")
                    ),
                )
                started = time.monotonic()
                page.goto(f"{base}/{name}", wait_until="domcontentloaded", timeout=PAGE_LOAD)
                page.wait_for_function("document.body.dataset.maths === 'typeset'", timeout=PAGE_LOAD)
                markdown = page.locator(".jp-RenderedMarkdown")
                assert markdown.count() > 0, f"{name}: no rendered markdown"
                raw = [text for text in markdown.all_inner_texts() if "$$" in text]
                assert not raw, f"{name}: maths left untypeset: {raw[0][:200]!r}"
                assert page.locator("mjx-merror").count() == 0, f"{name}: MathJax could not typeset some maths"
                if name != "index.html":
                    assert page.locator(".jp-RenderedMarkdown mjx-container").count() > 10, f"{name}: no typeset maths"

                if name == "09_noise_explorer.html":
                    view = page.locator(".okcore-noise-explorer")
                    plot = view.locator(".widget-output img").first
                    plot.wait_for(timeout=PAGE_LOAD)
                    assert view.locator(".widget-slider").count() >= 4, "09: the sliders of the saved view are missing"
                    assert "OK (r = 2)" in view.locator(".okcore-readout").inner_text()
                    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=plot.element_handle())
                if name == "08_ok_optimality_proof.html":
                    page.locator(".jupyter-widgets .widget-slider, .jupyter-widgets .widget-output").first.wait_for()

                page.wait_for_function("[...document.images].every(img => img.complete)", timeout=PAGE_LOAD)
                images = page.evaluate("[...document.images].map(img => [img.naturalWidth, img.src.slice(0, 60)])")
                broken = [src for width, src in images if width == 0]
                assert not broken, f"{name}: images not loaded: {broken}"
                if name != "index.html":
                    assert images, f"{name}: no figures"

                for href in page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)"):
                    url, _, anchor = href.partition("#")
                    if url == f"{base}/{name}" and anchor:
                        anchors.append((name, anchor))
                    elif url.startswith(base + "/"):
                        links.setdefault(url, name)
                for page_name, anchor in [a for a in anchors if a[0] == name]:
                    # As browsers do: the fragment as written, else percent-decoded.
                    found = page.evaluate(
                        "id => document.getElementById(id) !== null"
                        " || document.getElementById(decodeURIComponent(id)) !== null",
                        anchor,
                    )
                    assert found, f"{page_name}: the link #{anchor} points at nothing"

                shot = tmp_path / f"{Path(name).stem}.png"
                if name == "09_noise_explorer.html":
                    page.locator(".okcore-noise-explorer").scroll_into_view_if_needed()
                page.screenshot(path=str(shot))
                shots.append(shot)
                print(f"\n{name}: checked in {time.monotonic() - started:.1f} s", end="")
                page.close()

            # The pager works: "next" on the landing page opens the first notebook.
            page = context.new_page()
            page.goto(f"{base}/index.html", wait_until="domcontentloaded", timeout=PAGE_LOAD)
            page.locator("a[rel=next]").first.click()
            page.wait_for_url(f"{base}/{NOTEBOOKS[0].stem}.html", timeout=PAGE_LOAD)
            page.close()
        finally:
            browser.close()

        bad = {url: (status, page) for url, page in links.items() if (status := http_status(url)) != 200}
    print("\nscreenshots of the book: " + ", ".join(map(str, shots)))
    assert not bad, f"links that do not resolve: {bad}"
    assert {f"{base}/{nb.stem}.html" for nb in NOTEBOOKS} <= set(links), "a notebook page is not linked"
    assert not blocked, f"the pages asked the network for: {blocked}"
    assert not errors, "JavaScript errors:\n" + "\n".join(errors)
    assert all(shot.stat().st_size > 10_000 for shot in shots)
