"""Helpers for the browser test: find Chromium, run an isolated JupyterLab server, open a page in it.

Nothing here downloads anything: the browser is the system's Chromium (Debian: ``apt-get install chromium``),
driven by the ``playwright`` Python package through ``executable_path``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = (
    "The browser test needs Chromium. On Debian or Ubuntu: `apt-get update && apt-get install -y chromium` "
    "(with sudo if you are not root); .ci/run installs it. Or point OKCORE_CHROMIUM at a Chromium binary."
)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def find_chromium() -> str | None:
    """Path of the Chromium to use: $OKCORE_CHROMIUM, /usr/bin/chromium, or `chromium` on PATH; None if none."""
    candidates = [os.environ.get("OKCORE_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LabServer:
    """A running JupyterLab server started by :func:`jupyter_lab`."""

    proc: subprocess.Popen
    port: int
    root: Path
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "\n".join(text[-lines:])


def _isolated_env(home: Path) -> dict[str, str]:
    """Environment for the server: Jupyter's config, data and runtime folders (and Lab's settings and
    workspaces) inside ``home``, so that the reader's own settings neither affect nor get changed by the test."""
    env = dict(os.environ)
    config = home / "config"
    env.update(
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(config / "lab" / "user-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(config / "lab" / "workspaces"),
        IPYTHONDIR=str(home / "ipython"),
        JUPYTER_PLATFORM_DIRS="1",
        # The venv's executables first, as `make test` does, so that the kernel is the venv's Python.
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    env.pop("MPLBACKEND", None)
    # No "news" or "update available" notifications: they need the network and cover the page.
    settings = config / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    notification = settings / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    return env


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server and everything it started (kernels): its own process group, by id."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.contextmanager
def jupyter_lab(root: Path, home: Path, startup_timeout: float = 60.0) -> Iterator[LabServer]:
    """Run ``jupyter lab`` on 127.0.0.1 (free port, no token) serving ``root``; stop it on exit.

    Raises RuntimeError (with the end of the server log) if it exits or does not answer /api/status in time.
    """
    home.mkdir(parents=True, exist_ok=True)
    env = _isolated_env(home)
    port = free_port()
    cmd = [
        sys.executable, "-m", "jupyter", "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.token=",
        "--ServerApp.password=",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # as root, jupyter refuses to start without it (CI runs as root)
    log = home / "jupyterlab.log"
    with open(log, "w") as log_file:
        proc = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = LabServer(proc, port, root, log)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with code {proc.returncode}:\n{server.log_tail()}")
            try:
                with urllib.request.urlopen(f"{server.base_url}/api/status", timeout=2) as response:
                    json.load(response)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"jupyter lab did not answer on port {port} within {startup_timeout:.0f} s:\n"
                        f"{server.log_tail()}"
                    ) from None
                time.sleep(0.25)
        yield server
    finally:
        _stop(proc)
