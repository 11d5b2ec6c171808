"""nbdime's web diff of two notebooks, saved as one self-contained HTML file.

nbdime draws its diff in the browser: its server (``nbdiff-web``) serves a page whose JavaScript,
all shipped inside the nbdime wheel (no CDN), fetches the diff and renders it; the page's own
"Export diff" button then saves the rendered diff as a static HTML file. There is no server-side
export, so this module does what a person would, headless: it starts nbdime's server on
127.0.0.1, opens the page in Chromium (Playwright driving the system Chromium, lablib.browser), presses "Export
diff" and keeps the download. The export still points at the server for its icon fonts; those are
inlined as data: URLs, so the file opens anywhere, offline, after the server is gone.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import nbformat
import requests

from lablib import browser
from lablib.errors import LabError

#: seconds to wait for nbdime's server to answer and for the page to render the diff
WAIT = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(f"nbdime's diff server stopped (exit {proc.returncode}); try `nbdiff-web` by hand")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise LabError(f"nbdime's diff server did not answer within {WAIT} s")


def _inline(html: str, origin: str) -> str:
    """Replace every url(...) that points at nbdime's server with the file's bytes (data: URL).

    Icon fonts come in five formats each; every browser that runs the export reads woff2, which
    @font-face lists before the others, so only woff2 is kept (about 0.2 MB instead of 5 MB)."""
    cache: dict[str, str] = {}

    def data_url(match: re.Match) -> str:
        url = match.group(2)
        bare = url.split("#", 1)[0].split("?", 1)[0]
        if bare.endswith((".eot", ".woff", ".ttf")) or (bare.endswith(".svg") and "#" in url):
            return "url(data:,)"  # an older font format: never fetched by a browser that has woff2
        if bare not in cache:
            reply = requests.get(bare, timeout=10)
            reply.raise_for_status()
            kind = reply.headers.get("Content-Type", "application/octet-stream").split(";")[0]
            cache[bare] = f"data:{kind};base64,{base64.b64encode(reply.content).decode()}"
        return f"url({match.group(1)}{cache[bare]}{match.group(1)})"

    pattern = r"""url\((['"]?)(""" + re.escape(origin) + r"""/[^)'"]+)\1\)"""
    return re.sub(pattern, data_url, html)


def write_html(base: nbformat.NotebookNode, remote: nbformat.NotebookNode, out: Path, title: str = "") -> Path:
    """nbdime's web diff of ``base`` → ``remote`` as one HTML file at ``out`` (written whole, then renamed)."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise LabError("--html needs Playwright (the dev extra): run `make setup`, or leave --html out") from None

    chromium = str(browser.chromium())
    work = Path(tempfile.mkdtemp(prefix="lab-webdiff-"))
    port = _free_port()
    origin = f"http://127.0.0.1:{port}"
    nbformat.write(base, work / "solution.ipynb")
    nbformat.write(remote, work / "learner.ipynb")
    server = subprocess.Popen(
        [sys.executable, "-m", "nbdime.webapp.nbdiffweb", "solution.ipynb", "learner.ipynb",
         "--ip", "127.0.0.1", "--port", str(port), "--browser", "disabled",
         "--show-unchanged"],  # every answer and its label in view, not only the ones that differ
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for(origin + "/", server, time.monotonic() + WAIT)
        page_url = f"{origin}/diff?" + urlencode({"base": "solution.ipynb", "remote": "learner.ipynb"})
        with sync_playwright() as pw:
            headless = pw.chromium.launch(executable_path=chromium, headless=True)
            try:
                page = headless.new_page()
                page.goto(page_url)
                button = page.locator("#nbdime-export")
                button.wait_for(state="visible", timeout=WAIT * 1000)  # shown once the diff is drawn
                with page.expect_download(timeout=WAIT * 1000) as download:
                    button.click()
                exported = work / "export.html"
                download.value.save_as(exported)
            except PlaywrightError as exc:
                raise LabError(f"Chromium could not render nbdime's diff ({str(exc).splitlines()[0]})") from None
            finally:
                headless.close()
        html = _inline(exported.read_text(encoding="utf-8"), origin)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)
    if origin in html:
        raise LabError("nbdime's export still points at its server; the HTML would not open offline")
    if title:
        html = re.sub(r"<title>.*?</title>", f"<title>{_escape(title)}</title>", html, count=1, flags=re.S)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(html)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; it is a report to share
    os.replace(tmp, out)
    return out


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
