"""The noise explorer in a real browser: JupyterLab + Chromium, driven like a reader would.

Starts an isolated JupyterLab on a copy of notebooks/09_noise_explorer.ipynb, runs every cell from the Kernel menu,
moves the rank slider with the keyboard and waits until the plot and the numeric readout change. A screenshot is
saved in the test's temporary folder (its path is printed; see it with `pytest -s`).

Needs Chromium (`apt-get install chromium`); without it the test fails and says how to install it.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from browser_support import CHROMIUM_ARGS, INSTALL_HINT, find_chromium, jupyter_lab

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "09_noise_explorer.ipynb"

# Bounds for the waits, in milliseconds.
PAGE_LOAD = 60_000
RUN_ALL = 150_000  # a loaded machine runs the notebook several times slower than an idle one
ROUND_TRIP = 30_000


def _wait_until(predicate, timeout_ms: int, what: str, interval: float = 0.2):
    """Poll ``predicate()`` until it returns something truthy; fail with ``what`` after ``timeout_ms``."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_ms / 1000:.0f} s waiting for {what}")
        time.sleep(interval)


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_rank_slider_updates_plot_and_readout(tmp_path):
    chromium = find_chromium()
    if chromium is None:
        pytest.fail(f"Chromium not found. {INSTALL_HINT}", pytrace=False)
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright

    # Lab autosaves what it opens: give it a copy, never the committed notebook. The copy has no outputs and no
    # execution counts, so that a prompt "[n]:" can only come from this run (not from the saved notebook).
    root = tmp_path / "lab"
    root.mkdir()
    fresh = nbformat.read(NOTEBOOK, as_version=4)
    for cell in fresh.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(fresh, root / NOTEBOOK.name)
    # Execution count of the last code cell whose input is shown (hidden inputs show no prompt).
    code_cells = [cell for cell in nbformat.read(NOTEBOOK, as_version=4).cells if cell.cell_type == "code"]
    shown = [not cell.metadata.get("jupyter", {}).get("source_hidden") for cell in code_cells]
    last_shown = max(i for i, visible in enumerate(shown, 1) if visible)
    shot = tmp_path / "noise_explorer.png"

    with jupyter_lab(root, tmp_path / "jupyter") as server, sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True, timeout=60_000)
        except PlaywrightError as err:
            pytest.fail(f"Chromium at {chromium} did not start: {err}\n{INSTALL_HINT}", pytrace=False)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(PAGE_LOAD)
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        try:
            page.goto(f"{server.base_url}/lab/tree/{NOTEBOOK.name}?reset", timeout=PAGE_LOAD)
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=PAGE_LOAD)
            page.get_by_text("| Idle").first.wait_for(timeout=PAGE_LOAD)  # the kernel is up
            if page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").count():
                page.keyboard.press("Control+b")  # close the file browser: more room for the dashboard

            # Kernel > Restart Kernel and Run All Cells…, then confirm the dialog.
            page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Restart Kernel and Run All Cells").first.click()
            page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()

            # Done when the last visible code cell has run (its prompt shows its execution count) and the kernel is
            # idle again.
            last_prompt = page.locator(".jp-InputPrompt", has_text=f"[{last_shown}]:")
            last_prompt.first.wait_for(state="attached", timeout=RUN_ALL)
            page.get_by_text("| Idle").first.wait_for(timeout=RUN_ALL)

            dashboard = page.locator(".okcore-noise-explorer")
            expect(dashboard).to_have_count(1, timeout=ROUND_TRIP)
            rank = dashboard.locator(".widget-slider").filter(has=page.locator(".widget-label", has_text="rank r"))
            expect(rank).to_have_count(1)
            rank_value = rank.locator(".widget-readout")
            readout = dashboard.locator(".okcore-readout")
            plot = dashboard.locator(".widget-output img")
            status = dashboard.locator(".okcore-status")
            rank.scroll_into_view_if_needed()
            expect(rank_value).to_have_text("2", timeout=ROUND_TRIP)  # the notebook ends on the default view
            expect(readout).to_contain_text("OK (r = 2)", timeout=ROUND_TRIP)
            # The readout is set before the plot is drawn; "updated" comes after the plot, so only then is the
            # <img> the one of the default view.
            expect(status).to_contain_text("updated", timeout=ROUND_TRIP)
            plot.first.wait_for(timeout=ROUND_TRIP)
            text_before = readout.inner_text()
            src_before = plot.first.get_attribute("src")
            assert src_before, "the plot <img> has no src"

            handle = rank.locator(".noUi-handle")
            handle.focus()
            handle.press("ArrowRight")

            expect(rank_value).to_have_text("3", timeout=ROUND_TRIP)
            expect(readout).to_contain_text("OK (r = 3)", timeout=ROUND_TRIP)
            # The readout for r = 3 arrives after "computing…", so this "updated" is the one of the new view.
            expect(status).to_contain_text("updated", timeout=ROUND_TRIP)
            _wait_until(
                lambda: plot.count() == 1 and plot.first.get_attribute("src") not in (None, src_before),
                ROUND_TRIP,
                "the plot to be redrawn for r = 3",
            )
            text_after = readout.inner_text()
            assert text_after != text_before
            assert "KF-avg (r = 3)" in text_after and "UORO" in text_after

            page.wait_for_timeout(300)  # let the new image paint before the screenshot
            dashboard.scroll_into_view_if_needed()
            page.screenshot(path=str(shot))
            print(f"\nscreenshot of the dashboard after the slider move: {shot}")
        except Exception:
            failure = tmp_path / "failure.png"
            try:
                page.screenshot(path=str(failure))
            except PlaywrightError:
                pass
            print(f"\nscreenshot at the failure: {failure}\npage errors: {errors}\nserver log:\n{server.log_tail()}")
            raise
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
