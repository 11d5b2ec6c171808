"""The Chromium that the browser tests drive headless (and, later, chapter 07's dashboard test).

Playwright normally downloads a browser build of its own (`playwright install`); that download is
not reachable from every machine, so the course uses the distribution's Chromium instead (Debian's
``chromium`` package, installed by scripts/system-deps.sh and docker/Dockerfile) and hands its path
to Playwright as ``executable_path``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lablib.config import settings
from lablib.errors import LabError

#: looked up on PATH in this order: Debian's package, Google Chrome (e.g. on GitHub's Ubuntu
#: runners), then Ubuntu's name, which on a machine without snap is only a stub
NAMES = ("chromium", "google-chrome-stable", "google-chrome", "chromium-browser")
#: where browsers live off PATH (macOS applications)
PLACES = (Path("/Applications/Chromium.app/Contents/MacOS/Chromium"),
          Path("/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"))

MISSING = ("Chromium is not installed: run `make system-deps` (on Debian/Ubuntu it installs the "
           "`chromium` package), or set LAB_CHROMIUM to a Chromium or Chrome binary")


def chromium() -> Path:
    """The Chromium binary to drive: LAB_CHROMIUM when set, else the first of :data:`NAMES` on PATH,
    else one of :data:`PLACES`; one LabError saying what to run when there is none."""
    configured = settings().chromium
    if configured is not None:
        if not (configured.is_file() and os.access(configured, os.X_OK)):
            raise LabError(f"LAB_CHROMIUM={configured} is not an executable file; point it at a "
                           "Chromium or Chrome binary, or unset it")
        return configured
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    for place in PLACES:
        if place.is_file() and os.access(place, os.X_OK):
            return place
    raise LabError(MISSING)
