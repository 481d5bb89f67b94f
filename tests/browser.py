"""Open an HTML file in headless Chromium and report what a person opening it would get: the
DOM after its scripts ran, the console messages, the network requests, and a screenshot.

What the installed Chromium (150, Debian) does, checked by hand:
- `--headless=new --dump-dom --screenshot=PATH` in one run gives both (the DOM on stdout);
- with `--enable-logging=stderr --v=0` each console message (log, warn, error, uncaught
  exception, CSP violation) is a stderr line `[pid:tid:time:INFO:CONSOLE:LINE] "MESSAGE",
  source: URL (LINE)` (older builds: `CONSOLE(LINE)`); the level is always INFO for web pages,
  so every console message counts;
- `--log-net-log=FILE` writes JSON whose URL_REQUEST_START_JOB events carry each request's
  url and initiator: the page's own requests have initiator "null" or "file://", Chromium's
  background traffic (time sync, accounts, spelling dictionaries) has "not an origin".
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:", "chrome:")
BROWSER_INITIATOR = "not an origin"
CONSOLE_LINE = re.compile(r':CONSOLE[:(]\d+\)?\] "(.*?)", source: (.*?) \((\d+)\)$', re.MULTILINE | re.DOTALL)


@dataclass
class Page:
    dom: str
    console: list[str]  # "MESSAGE (SOURCE:LINE)", every console message
    requests: list[str]  # URLs the page asked for that are not local (file:, data:, ...)


def chromium() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError(f"no Chromium found (looked for {', '.join(BROWSERS)} on PATH): install it, e.g. apt-get install chromium")


def load_page(html_path: str | os.PathLike, screenshot_path: str | os.PathLike | None = None, timeout: float = 60,
              window: tuple[int, int] = (1280, 2400)) -> Page:
    """Load a local HTML file once in headless Chromium (5 s of virtual time for its scripts)
    and return its DOM, console and requests; write a PNG of the window when asked."""
    url = Path(html_path).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="lightr1-chromium-") as tmp:
        net_log = Path(tmp) / "net.json"
        command = [
            chromium(),
            "--headless=new",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp}/profile",
            "--virtual-time-budget=5000",
            "--enable-logging=stderr",
            "--v=0",
            f"--log-net-log={net_log}",
            f"--window-size={window[0]},{window[1]}",
            "--dump-dom",
        ]
        if screenshot_path is not None:
            Path(screenshot_path).parent.mkdir(parents=True, exist_ok=True)
            command.append(f"--screenshot={Path(screenshot_path).resolve()}")
        stdout, stderr = _run(command + [url], timeout)
        if screenshot_path is not None and not Path(screenshot_path).is_file():
            raise RuntimeError(f"Chromium wrote no screenshot to {screenshot_path}:\n{stderr[-3000:]}")
        requests = _requests(net_log)
    return Page(dom=stdout, console=_console(stderr), requests=requests)


def _run(command: list[str], timeout: float) -> tuple[str, str]:
    """Run Chromium in its own process group, so that a timeout ends all of its processes."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise RuntimeError(f"Chromium did not finish within {timeout} s: {' '.join(command)}") from None
    if process.returncode != 0:
        raise RuntimeError(f"Chromium failed (exit {process.returncode}): {' '.join(command)}\n{stderr[-3000:]}")
    return stdout, stderr


def _console(stderr: str) -> list[str]:
    return [f"{message} ({source}:{line})" for message, source, line in CONSOLE_LINE.findall(stderr)]


def _requests(net_log: Path) -> list[str]:
    """URLs of the requests the page started (not Chromium's own background traffic)."""
    try:
        log = json.loads(net_log.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise RuntimeError(f"cannot read Chromium's net log {net_log}: {err}") from err
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        params = event.get("params", {})
        if event["type"] != start_job or params.get("initiator") == BROWSER_INITIATOR:
            continue
        url = params.get("url")  # absent on the event that ends a job
        if url and not url.startswith(LOCAL_SCHEMES) and url not in urls:
            urls.append(url)
    return urls


def element_boxes(html_path: str | os.PathLike, selectors: list[str], window: tuple[int, int], screenshot_path: str | os.PathLike | None = None
                  ) -> dict[str, tuple[float, float, float, float] | None]:
    """Where each selector's first element lies on the page laid out in a window of that size:
    (top, bottom, left, right) in CSS pixels from the page's top left, None when absent. A copy
    of the page gets a measuring script, allowed by adding its hash to the page's CSP."""
    probe = (
        "addEventListener('load', () => setTimeout(() => { document.body.dataset.boxes = JSON.stringify("
        + json.dumps(selectors)
        + ".map(s => { const e = document.querySelector(s); if (!e) return null; const r = e.getBoundingClientRect();"
        " return [r.top + scrollY, r.bottom + scrollY, r.left + scrollX, r.right + scrollX]; })); }, 0));"
    )
    digest = base64.b64encode(hashlib.sha256(probe.encode()).digest()).decode()
    page = Path(html_path).read_text(encoding="utf-8")
    measured, count = re.subn(r"script-src ", f"script-src 'sha256-{digest}' ", page, count=1)
    if not count:
        raise RuntimeError(f"{html_path}: no script-src in its Content-Security-Policy to add the measuring script to")
    measured = measured.replace("</body>", f"<script>{probe}</script></body>", 1)
    with tempfile.TemporaryDirectory(prefix="lightr1-layout-") as tmp:
        copy = Path(tmp) / "index.html"
        copy.write_text(measured, encoding="utf-8")
        loaded = load_page(copy, screenshot_path, window=window)
    found = re.search(r'<body[^>]*data-boxes="([^"]*)"', loaded.dom)
    if found is None:
        raise RuntimeError(f"the measuring script did not run: {loaded.console}")
    boxes = json.loads(html.unescape(found.group(1)))
    return {selector: None if box is None else tuple(box) for selector, box in zip(selectors, boxes)}
