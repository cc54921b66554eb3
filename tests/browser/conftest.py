"""The browser's tests run the real thing: `lmspec run` on the quickstart (smaller corpus, 30 training steps),
`lmspec browse` as a subprocess on a free port, and Debian's headless Chromium driven through Selenium and
chromium-driver (`scripts/browser-tools.sh` installs both). Nothing is mocked.

`LMSPEC_TEST_QUICKSTART_ROOT=DIR` reuses a root that already holds a quickstart run (any number of
training steps), which saves the three minutes of the run while working on the browser.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from examples.quickstart_data import make
from tests.conftest import REPO

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def lmspec(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("CI", None)
    return subprocess.run(
        [sys.executable, "-m", "lmspec.cli", *args], capture_output=True, text=True, env=env, timeout=900, check=False
    )


@pytest.fixture(scope="session")
def quickstart_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root holding a finished quickstart run."""
    reused = os.environ.get("LMSPEC_TEST_QUICKSTART_ROOT")
    if reused:
        return Path(reused)
    folder = tmp_path_factory.mktemp("quickstart")
    make(folder / "data" / "quickstart", paragraphs=500)
    spec = folder / "quickstart.toml"
    text = (REPO / "examples" / "quickstart.toml").read_text()
    spec.write_text(text.replace("train_steps = 200", "train_steps = 30"))
    done = lmspec("run", str(spec), "--root", str(folder / "runs"), "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    return folder / "runs"


@dataclass
class Server:
    """A running `lmspec browse` and its address (`url("/step/x/")`)."""

    process: subprocess.Popen[str]
    base: str
    root: Path

    def url(self, path: str) -> str:
        return self.base.rstrip("/") + path


@pytest.fixture(scope="session")
def server(quickstart_root: Path) -> Iterator[Server]:
    with browse(quickstart_root) as running:
        yield running


class browse:
    """`lmspec browse --root ROOT --port 0` for the length of a `with` block."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __enter__(self) -> Server:
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        command = [sys.executable, "-m", "lmspec.cli", "browse", "--root", str(self.root), "--port", "0"]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("lmspec browse: http://127.0.0.1:"), line + self.process.stdout.read()
        return Server(self.process, line.split()[2], self.root)

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.communicate(timeout=30)


def chromium() -> tuple[str, str]:
    """(browser, driver) executables; a clear failure when they are missing."""
    found = next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    if not found or not driver:
        pytest.fail("the browser tests need chromium and chromium-driver: run scripts/browser-tools.sh")
    return found, driver


@pytest.fixture(scope="session")
def driver() -> Iterator[Any]:
    """Headless Chromium that keeps the page's console messages (`driver.get_log("browser")`)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, executable = chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1400,1000")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(executable_path=executable), options=options)
    chrome.set_page_load_timeout(60)
    yield chrome
    chrome.quit()


def console_errors(chrome: Any) -> list[str]:
    """The console's errors since the last call (reading the log empties it)."""
    return [entry["message"] for entry in chrome.get_log("browser") if entry["level"] == "SEVERE"]


def visit(chrome: Any, url: str, shots: Path, name: str) -> None:
    """Load `url`, save a full-width screenshot as `shots/name.png`, and fail on any console error."""
    console_errors(chrome)
    chrome.get(url)
    shots.mkdir(parents=True, exist_ok=True)
    height = chrome.execute_script("return document.documentElement.scrollHeight")
    chrome.set_window_size(1400, min(max(height + 40, 600), 6000))
    chrome.save_screenshot(str(shots / f"{name}.png"))
    chrome.set_window_size(1400, 1000)
    errors = console_errors(chrome)
    assert not errors, f"{url}: console errors: {errors}"
