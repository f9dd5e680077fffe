"""Open the built docs in headless Chromium: check that pages render, save screenshots.

Checks two pages of ``docs/_build/html`` (build it first: ``python -m sphinx -W --keep-going -b
html docs docs/_build/html``):

- ``api/mlplab.optim.Adam.html``: the class is documented (its signature, its parameters and
  its Examples section are in the rendered DOM);
- ``notebooks/01_lecture.html``: every figure is an image that the browser actually decoded
  (``naturalWidth > 0``), at least ``--min-figures`` of them, next to the printed claims.

For each page it saves a PNG screenshot under ``docs/_build/screenshots/`` and checks that it is
not blank. Needs Debian's ``chromium`` (``apt-get install -y chromium``). Exit code 0 when every
check passes, 1 otherwise; one line per check.

Usage::

    python scripts/check_docs_render.py [--html docs/_build/html] [--out docs/_build/screenshots]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
    "--virtual-time-budget=10000", "--run-all-compositor-stages-before-draw",
]  # fmt: skip

# Appended to a copy of the page (same folder, so relative image paths still resolve): after
# the load event it writes what the browser decoded of every image into the DOM.
PROBE = """
<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(i => [i.getAttribute("src"), i.naturalWidth]);
  document.body.setAttribute("data-render-probe", JSON.stringify(images));
});
</script>
"""


def chromium() -> str:
    """Return the Chromium executable, or exit with a one-line reason."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    sys.exit("check_docs_render: chromium not found (apt-get install -y chromium)")


def run_browser(args: list[str], profile: Path) -> str:
    """Run headless Chromium with a throwaway profile; return its stdout."""
    cmd = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited with {done.returncode}: {done.stderr[-500:]}")
    return done.stdout


def rendered_dom(page: Path, profile: Path) -> tuple[str, list[tuple[str, int]]]:
    """Return the DOM after load and the (src, naturalWidth) of every image on the page."""
    probe = page.with_name(f"_render_probe_{page.name}")
    probe.write_text(page.read_text(encoding="utf-8") + PROBE, encoding="utf-8")
    try:
        dom = run_browser(["--dump-dom", probe.as_uri()], profile)
    finally:
        probe.unlink()
    found = re.search(r'data-render-probe="([^"]*)"', dom)
    images = json.loads(found.group(1).replace("&quot;", '"')) if found else []
    return dom, [(src, int(width)) for src, width in images]


def screenshot(page: Path, png: Path, size: str, profile: Path) -> float:
    """Save a screenshot of the page; return the fraction of pixels that are not white."""
    png.parent.mkdir(parents=True, exist_ok=True)
    run_browser([f"--window-size={size}", f"--screenshot={png}", page.as_uri()], profile)
    import matplotlib.image

    pixels = matplotlib.image.imread(png)[..., :3]
    return float((pixels < 0.95).any(axis=-1).mean())


def main(argv: list[str] | None = None) -> int:
    """Run the checks; print one line each; return 0 when all pass."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "docs" / "_build" / "html")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "_build" / "screenshots")
    parser.add_argument("--min-figures", type=int, default=5)
    args = parser.parse_args(argv)
    adam = args.html / "api" / "mlplab.optim.Adam.html"
    lecture = args.html / "notebooks" / "01_lecture.html"
    for page in (adam, lecture):
        if not page.is_file():
            sys.exit(f"check_docs_render: {page} not found: build the docs first")
    checks: list[tuple[str, bool]] = []
    with tempfile.TemporaryDirectory() as tmp:
        profile = Path(tmp)
        dom, _ = rendered_dom(adam, profile)
        checks.append(("Adam: class signature rendered", 'id="mlplab.optim.Adam"' in dom))
        checks.append(("Adam: parameters rendered", "bias_correction" in dom and "betas" in dom))
        doctest = "Examples" in dom and "&gt;&gt;&gt;" in dom
        checks.append(("Adam: Examples section rendered", doctest))
        ink = screenshot(adam, args.out / "mlplab.optim.Adam.png", "1440,1600", profile)
        checks.append((f"Adam: screenshot not blank ({ink:.1%} ink)", ink > 0.01))

        dom, images = rendered_dom(lecture, profile)
        figures = [(src, w) for src, w in images if "_images/" in src]
        decoded = [src for src, w in figures if w > 0]
        checks.append(
            (f"lecture: {len(decoded)} of {len(figures)} figures decoded by the browser",
             len(figures) >= args.min_figures and len(decoded) == len(figures))
        )  # fmt: skip
        checks.append(("lecture: the claims are printed", "lecture: 1 − α = 0.5" in dom))
        ink = screenshot(lecture, args.out / "01_lecture.png", "1440,5200", profile)
        checks.append((f"lecture: screenshot not blank ({ink:.1%} ink)", ink > 0.01))
    for what, ok in checks:
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
    print(f"screenshots: {args.out / 'mlplab.optim.Adam.png'}, {args.out / '01_lecture.png'}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
