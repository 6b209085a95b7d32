"""Build the okcore workbook as a static website that reads offline.

    python tools/book/build.py [--out build/book] [--notebooks notebooks]

Every notebook becomes one HTML page (nbconvert's JupyterLab template, extended in templates/okcore-book) with its
prose, maths, code and the outputs stored in it; nothing is executed. A landing page says what the workbook is,
maps the notebooks (descriptions from the README's table) and how to run it. The JavaScript the pages need when
read (MathJax, require.js and the widget renderer @jupyter-widgets/html-manager) is copied from the npm packages
installed next to this file (`npm ci --prefix tools/book`, which `make book` runs) into the site's _static folder,
so the pages load nothing from the network.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TEMPLATES = HERE / "templates"
TEMPLATE_NAME = "okcore-book"
NODE_MODULES = HERE / "node_modules"
STATIC = "_static"
SITE_TITLE = "okcore workbook"

# What is copied from node_modules into _static: (source, destination), files or whole folders.
ASSETS = [
    ("requirejs/require.js", "require.js"),
    ("mathjax/es5/tex-chtml-full.js", "mathjax/tex-chtml-full.js"),
    ("mathjax/es5/output/chtml/fonts/woff-v2", "mathjax/output/chtml/fonts/woff-v2"),
    ("mathjax/LICENSE", "licenses/mathjax.txt"),
    ("@jupyter-widgets/html-manager/dist", "html-manager"),
]
# Parts of the html-manager's dist folder the pages do not use: source maps and the non-AMD bundles.
SKIP_IN_DIST = ("*.map", "embed.js", "embed.js.LICENSE.txt", "libembed-amd.js")

# A link to a notebook in a markdown cell, as nbconvert writes it: <a href="NN_name.ipynb#anchor">text</a>.
NOTEBOOK_LINK = re.compile(r'<a href="(\d\d_[A-Za-z0-9_]+)\.ipynb(#[^"]*)?"([^>]*)>(.*?)</a>', re.S)
H2 = re.compile(r'<h2 id="([^"]+)">(.*?)<a class="anchor-link"', re.S)


@dataclass
class Chapter:
    """One notebook of the book."""

    path: Path
    title: str
    description: str = ""
    href: str = field(init=False)

    def __post_init__(self) -> None:
        self.href = self.path.stem + ".html"


def first_heading(nb: nbformat.NotebookNode, default: str) -> str:
    """The text of the notebook's first level-1 heading (markdown markup and maths delimiters kept), or default."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return default


def readme_sections(readme: str) -> dict[str, str]:
    """The README's level-2 sections: heading -> markdown body."""
    sections: dict[str, str] = {}
    parts = re.split(r"^## +(.+?)\s*$", readme, flags=re.M)
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        sections[heading.strip()] = body.strip()
    return sections


def readme_descriptions(readme: str) -> dict[str, str]:
    """Descriptions of the notebooks from the README's table rows "| `NN_name` | what it teaches |"."""
    rows = re.findall(r"^\|\s*`(\d\d_[A-Za-z0-9_]+)`\s*\|(.*)\|\s*$", readme, flags=re.M)
    return {name: text.strip() for name, text in rows}


def find_chapters(notebooks: Path, readme: str) -> list[Chapter]:
    """The notebooks NN_*.ipynb in ``notebooks``, in order, with their titles and README descriptions."""
    paths = sorted(notebooks.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise SystemExit(f"error: no notebooks NN_*.ipynb found in {notebooks}")
    descriptions = readme_descriptions(readme)
    chapters = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        chapters.append(Chapter(path, first_heading(nb, path.stem), descriptions.get(path.stem, "")))
    return chapters


def copy_assets(node_modules: Path, static: Path) -> None:
    """Copy the JavaScript, fonts and licences the pages load into ``static``."""
    missing = [src for src, _ in ASSETS if not (node_modules / src).exists()]
    if missing:
        raise SystemExit(
            f"error: {', '.join(missing)} not found in {node_modules}.\n"
            f"       Install the book's JavaScript first: npm ci --prefix {node_modules.parent} (make book does)."
        )
    for src, dest in ASSETS:
        source, target = node_modules / src, static / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns(*SKIP_IN_DIST))
        else:
            shutil.copy2(source, target)
    shutil.copy2(HERE / "book.css", static / "book.css")


def copy_lab_css(exporter: HTMLExporter, static: Path) -> None:
    """Copy the styles of nbconvert's lab template (installed with nbconvert) into ``static``/lab."""
    for folder in exporter.template_paths:
        source = Path(folder) / "static"
        if Path(folder).name == "lab" and (source / "index.css").is_file():
            (static / "lab").mkdir(parents=True, exist_ok=True)
            for name in ("index.css", "theme-light.css"):
                shutil.copy2(source / name, static / "lab" / name)
            return
    raise SystemExit(f"error: the styles of nbconvert's lab template were not found in {exporter.template_paths}")


def make_exporter() -> HTMLExporter:
    exporter = HTMLExporter(
        extra_template_basedirs=[str(TEMPLATES)],
        template_name=TEMPLATE_NAME,
        require_js_url=f"{STATIC}/require.js",
        widget_renderer_url=f"{STATIC}/html-manager/embed-amd.js",
    )
    return exporter


def landing_notebook(chapters: list[Chapter], readme: str) -> nbformat.NotebookNode:
    """The landing page, as a notebook of markdown cells: what the workbook is, the map, how to run it."""
    sections = readme_sections(readme)
    title_match = re.search(r"^# +(.+)$", readme, flags=re.M)
    title = title_match.group(1).strip() if title_match else SITE_TITLE
    about = sections.get("What this is", "")
    rows = "\n".join(f"| [{chapter.title}]({chapter.href}) | {chapter.description} |" for chapter in chapters)
    commands = re.search(r"```sh\n(.*?)```", readme, flags=re.S)
    run = [
        "## Run it yourself",
        "",
        "These pages show the notebooks as they were last executed and checked: the figures and the widget "
        "views are the stored ones, and the sliders do not recompute anything. To run the notebooks, change "
        "parameters and do the exercises, get the repository and, in its folder, run:",
        "",
        "```sh",
        commands.group(1).rstrip() if commands else "make lab",
        "```",
    ]
    if "Prerequisites" in sections:
        run += ["", "### Prerequisites", "", sections["Prerequisites"]]
    cells = [
        nbformat.v4.new_markdown_cell(f"# {title}\n\n{about}"),
        nbformat.v4.new_markdown_cell(
            "## The notebooks\n\nRead them in order; each one is a single idea with its derivation, code, "
            "checks and plots. Reference solutions to the exercises are folded under each exercise.\n\n"
            f"| notebook | what it teaches |\n|---|---|\n{rows}"
        ),
        nbformat.v4.new_markdown_cell("\n".join(run)),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["title"] = title
    return nb


def render(
    exporter: HTMLExporter,
    nb: nbformat.NotebookNode,
    name: str,
    chapters: list[Chapter],
    current: str,
    prev: Chapter | None,
    next_: Chapter | None,
) -> str:
    """One page as HTML: the notebook through the template, links to other notebooks pointed at their pages, and
    the page's sections listed under its entry in the table of contents."""
    hrefs = {chapter.path.stem for chapter in chapters}
    resources = {
        "metadata": {"name": name},
        "book": {
            "site_title": SITE_TITLE,
            "chapters": chapters,
            "current": current,
            "prev": prev,
            "next": next_,
            "static": STATIC,
        },
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)

    def relink(match: re.Match) -> str:
        """Links to notebooks point at their pages; a notebook not in the book is named without a link."""
        stem, anchor, rest, text = match.group(1), match.group(2) or "", match.group(3), match.group(4)
        if stem in hrefs:
            return f'<a href="{stem}.html{anchor}"{rest}>{text}</a>'
        return f'<span class="okcore-not-in-book" title="{stem}.ipynb is not in this edition">{text}</span>'

    body = NOTEBOOK_LINK.sub(relink, body)
    sections = [
        f'<li><a href="#{anchor}">{text.strip()}</a></li>'
        for anchor, text in H2.findall(body)
        if current != "index.html"
    ]
    listing = f'<ol class="okcore-sections">{"".join(sections)}</ol>' if sections else ""
    return body.replace("<!--okcore-page-sections-->", listing, 1)


def build(out: Path, notebooks: Path, readme_path: Path, node_modules: Path = NODE_MODULES) -> list[Path]:
    """Write the site into ``out`` (emptied first); returns the pages written, landing page first."""
    readme = readme_path.read_text(encoding="utf-8") if readme_path.exists() else ""
    chapters = find_chapters(notebooks, readme)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    copy_assets(node_modules, out / STATIC)
    exporter = make_exporter()
    copy_lab_css(exporter, out / STATIC)

    pages = []
    landing = out / "index.html"
    first = chapters[0]
    landing.write_text(
        render(exporter, landing_notebook(chapters, readme), SITE_TITLE, chapters, "index.html", None, first),
        encoding="utf-8",
    )
    pages.append(landing)
    for i, chapter in enumerate(chapters):
        nb = nbformat.read(chapter.path, as_version=4)
        prev = chapters[i - 1] if i > 0 else None
        next_ = chapters[i + 1] if i + 1 < len(chapters) else None
        page = out / chapter.href
        title = html.unescape(re.sub(r"<[^>]+>", "", chapter.title))
        page.write_text(render(exporter, nb, title, chapters, chapter.href, prev, next_), encoding="utf-8")
        pages.append(page)
    return pages


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "book", help="output folder (emptied first)")
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks", help="folder of NN_*.ipynb")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md", help="README with the notebook table")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    pages = build(args.out, args.notebooks, args.readme)
    seconds = time.perf_counter() - start
    size = folder_size(args.out) / 2**20
    print(f"book: {len(pages)} pages in {args.out} ({size:.1f} MiB) built in {seconds:.1f} s")
    print(f"open {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
