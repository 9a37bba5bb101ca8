"""The sidebar in a real browser: JupyterLab on loopback, Debian's Chromium driven by Playwright.

A notebook loads llm_magics from the sidebar's own button, summarizes real reviews with the
default chat model, and the panel shows the job's progress and its end; Unload removes the model.
Another notebook, run with Run All after a plain ``import llm_magics``, shows its job in the
sidebar while the queued cells run, and the panel's Cancel stops it; reopened, it shows no
broken widget. A topic map
draws offline, with tooltips, and still draws when the saved notebook is reopened.
The screenshots land in ``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

import llm_magics

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SUMMARIZE = """\
from llm_magics.datasets import amazon_reviews
reviews = amazon_reviews("test").iloc[60:84]
summaries = reviews.llm.summarize("review", max_words=12, batch_tokens=1024)
print("summarized", summaries.notna().sum())
"""

LONG_SUMMARIZE = """\
from llm_magics.datasets import amazon_reviews
reviews = amazon_reviews("test").iloc[200:240]
summaries = reviews.llm.summarize("review", max_words=12, batch_tokens=512)
"""


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no browser at {CHROMIUM}: apt-get install chromium (see .ci/run)"
    built = Path(llm_magics.__file__).parent / "labextension" / "package.json"
    if not built.exists():
        return (
            "the sidebar is not built: install the package with Node.js on PATH (pip install -e .)"
        )
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install -e '.[dev]'"
    return None


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: {missing}")
        pytest.skip(missing)
    root = tmp_path_factory.mktemp("lab")
    settings = root / "settings"
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (
        settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    ).write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    notebooks = root / "notebooks"
    notebooks.mkdir()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SUMMARIZE)])
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, notebooks / "reviews.ipynb")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "llm-magics-test"
    # The sidebar built next to the llm_magics under test, ahead of any installed copy.
    extensions = root / "jupyter" / "labextensions"
    shutil.copytree(Path(llm_magics.__file__).parent / "labextension", extensions / "llm-magics")
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--allow-root",
            "--ip",
            "127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            "--LabApp.expose_app_in_browser=True",
            f"--LabApp.extra_labextensions_path={extensions}",
            f"--ServerApp.root_dir={notebooks}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(root / "server.log", "w"),  # noqa: SIM115 - closed with the process
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(
                        f"JupyterLab did not start:\n{(root / 'server.log').read_text()[-3000:]}"
                    )
                time.sleep(0.5)
        yield f"{base}/lab/tree/reviews.ipynb?token={token}", root
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextlib.contextmanager
def _browser_page(root: Path, failure: str, width: int = 1400, height: int = 900) -> Iterator[Any]:
    """A Chromium page; on a failure, its screenshot ``failure`` and the server's log are kept."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        try:
            yield page
        except Exception:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / failure))
            shutil.copy(root / "server.log", ARTIFACTS / "server.log")
            raise
        finally:
            browser.close()


def _write_notebook(root: Path, name: str, code: str) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, root / "notebooks" / name)


def test_the_sidebar_follows_a_summarize_job_and_unloads_its_model(lab: tuple[str, Path]) -> None:
    from playwright.sync_api import expect

    url, root = lab
    with _browser_page(root, "sidebar-failure.png") as page:
        page.goto(url)
        page.wait_for_function("window.jupyterapp && window.jupyterapp.started", timeout=60_000)
        page.locator(".jp-Notebook").wait_for(timeout=60_000)
        page.locator("li[data-id='llm-magics-sidebar']").click()
        panel = page.locator("#llm-magics-sidebar")

        # A fresh kernel has no llm_magics: the panel says so, and its button loads it.
        load = panel.get_by_role("button", name="Run %load_ext llm_magics")
        expect(load).to_be_visible(timeout=120_000)
        load.click()
        expect(panel.get_by_role("heading", name="Memory")).to_be_visible(timeout=60_000)
        expect(panel.locator(".jp-LlmMagics-device[data-device='cpu']")).to_be_visible()

        # Not awaited: the command's promise resolves only when the cell has run.
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        running = panel.locator(".jp-LlmMagics-job.jp-mod-running")
        expect(running.first).to_be_visible(timeout=180_000)
        seen = running.first.locator(".jp-LlmMagics-rows").inner_text()
        assert seen.endswith("/24 rows"), seen
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "sidebar-running.png"))
        finished = panel.locator(".jp-LlmMagics-job.jp-mod-done")
        expect(finished.first).to_be_visible(timeout=300_000)
        expect(finished.first.locator(".jp-LlmMagics-rows")).to_have_text("24/24 rows")
        expect(
            page.locator(".jp-OutputArea-output").filter(has_text="summarized 24")
        ).to_be_visible(timeout=60_000)

        chat = panel.locator(".jp-LlmMagics-model[data-name='default-chat']")
        expect(chat).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "sidebar.png"))
        chat.get_by_role("button", name="Unload").click()
        expect(chat).to_have_count(0, timeout=30_000)

        # A restarted kernel has lost llm_magics: the panel follows it back to that state.
        page.evaluate(
            "() => { window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart(); }"
        )
        expect(load).to_be_visible(timeout=120_000)
    for name in ("sidebar-running.png", "sidebar.png"):
        assert (ARTIFACTS / name).stat().st_size > 10_000


def test_during_run_all_the_sidebar_shows_the_job_and_cancel_stops_it(
    lab: tuple[str, Path],
) -> None:
    """Run All in a fresh kernel, llm_magics only imported (no %load_ext): the sidebar connects
    while the queued cells run (its comm has its own kernel subshell), shows the job, and its
    Cancel stops the cell after a batch. Saved and reopened, no bar is a broken widget."""
    from playwright.sync_api import expect

    url, root = lab
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("import llm_magics"),
            nbformat.v4.new_code_cell(LONG_SUMMARIZE),
            nbformat.v4.new_code_cell("print('the cell after the cancelled one ran')"),
        ]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, root / "notebooks" / "cancel.ipynb")
    with _browser_page(root, "sidebar-cancel-failure.png") as page:
        page.goto(url.replace("reviews.ipynb", "cancel.ipynb") + "&reset")
        page.wait_for_function("window.jupyterapp && window.jupyterapp.started", timeout=60_000)
        page.locator(".jp-Notebook").wait_for(timeout=60_000)
        page.locator("li[data-id='llm-magics-sidebar']").click()
        panel = page.locator("#llm-magics-sidebar")
        expect(panel.get_by_role("button", name="Run %load_ext llm_magics")).to_be_visible(
            timeout=120_000
        )

        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        job = panel.locator(".jp-LlmMagics-job.jp-mod-running").first
        rows = job.locator(".jp-LlmMagics-rows")
        expect(rows).to_have_text(re.compile(r"^[1-9]\d*/40 rows$"), timeout=300_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "sidebar-run-all.png"))
        job.get_by_role("button", name="Cancel").click()
        expect(job.get_by_text("cancelling…")).to_be_visible(timeout=5_000)
        page.screenshot(path=str(ARTIFACTS / "sidebar-cancelling.png"))

        stopped = panel.locator(".jp-LlmMagics-job.jp-mod-interrupted").first
        expect(stopped).to_be_visible(timeout=120_000)
        done, total = stopped.locator(".jp-LlmMagics-rows").inner_text().split()[0].split("/")
        assert 0 < int(done) < int(total) == 40
        output = page.locator(".jp-OutputArea-output")
        expect(output.filter(has_text="Stopping after this batch")).to_be_visible()
        expect(output.filter(has_text=f"{done} of 40 rows done")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "sidebar-cancelled.png"))
        page.wait_for_function(
            "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
            timeout=60_000,
        )
        expect(output.filter(has_text="the cell after the cancelled one ran")).to_have_count(0)

        # Saved and reopened: the stopped bar is its last line, not a widget the kernel lost.
        page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
        page.reload()
        page.locator(".jp-Notebook").wait_for(timeout=60_000)
        expect(output.filter(has_text=f"{done}/40")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Error displaying widget")).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "sidebar-reopened.png"))


TOPIC_MAP = """\
from llm_magics.datasets import amazon_reviews
reviews = amazon_reviews("test").iloc[:40]
topics = reviews.llm.topics("review", k=3, label=False, progress=False)
topics.plot(texts=reviews["review"])
"""


def test_a_chart_draws_offline_with_tooltips_and_again_when_reopened(
    lab: tuple[str, Path],
) -> None:
    from playwright.sync_api import expect

    url, root = lab
    _write_notebook(root, "charts.ipynb", TOPIC_MAP)
    loopback = url.split("/lab/")[0]
    with _browser_page(root, "charts-failure.png", width=1200, height=800) as page:
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        # A reset workspace, so that the notebook this test runs is the only one open.
        page.goto(url.replace("reviews.ipynb", "charts.ipynb") + "&reset")
        page.wait_for_function("window.jupyterapp && window.jupyterapp.started", timeout=60_000)
        page.wait_for_function(
            "window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status"
            " === 'idle'",
            timeout=120_000,
        )
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        # Drawn by our extension's bundled vega-embed (as SVG), not JupyterLab's HTML output.
        chart = page.locator(".jp-LlmMagics-vega svg.marks")
        expect(chart).to_be_visible(timeout=180_000)
        points = chart.locator(".mark-symbol.role-mark path")
        expect(points).to_have_count(40)
        points.nth(5).hover()
        tooltip = page.locator("#vg-tooltip-element")
        expect(tooltip).to_be_visible(timeout=10_000)
        expect(tooltip).to_contain_text("keywords")
        expect(page.get_by_text("Error loading script")).to_have_count(0)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "charts.png"))

        # The notebook as saved, reopened: the chart draws from the stored output alone.
        page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        saved = nbformat.read(root / "notebooks" / "charts.ipynb", as_version=4)
        bundle = saved.cells[0].outputs[-1]["data"]
        assert bundle["image/svg+xml"].lstrip().startswith("<svg")
        assert bundle["application/vnd.vegalite.v6+json"]["mark"]["type"] == "circle"
        page.reload()
        expect(chart).to_be_visible(timeout=60_000)

        expect(page.get_by_text("Error loading script")).to_have_count(0)
        outside = [u for u in requests if not u.startswith((loopback, "data:", "blob:"))]
        assert not outside, outside
