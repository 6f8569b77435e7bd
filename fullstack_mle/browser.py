"""Headless Chromium for the app's browser tests and screenshots: Debian's `chromium` package
driven by Playwright's Python package (no browser download: `executable_path` points at it).

    python -m fullstack_mle.browser --url http://127.0.0.1:8080 --out reports/fullstack

visits the app as a person would (pick a user, click an ad, open the dashboard) and saves a
screenshot of each page.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser")
HOW_TO_INSTALL = "install Debian's chromium (sudo apt-get install -y chromium)"


def find_chromium() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def capture(url: str, out: Path) -> dict:
    """Visit the first user, click their top ad, then open the dashboard; save both pages.
    Returns what the pages said."""
    from playwright.sync_api import sync_playwright

    executable = find_chromium()
    if executable is None:
        raise RuntimeError(f"no chromium found: {HOW_TO_INSTALL}")
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url + "/")
            page.select_option("#user-picker", index=1)
            page.click("#visit-button")
            page.locator("button.item.ad").first.click()
            page.wait_for_selector("#feedback-message.ok")
            message = page.inner_text("#feedback-message")
            page.screenshot(path=str(out / "viewer.png"), full_page=True)
            page.goto(url + "/dashboard")
            clicks = page.inner_text("#live-clicks")
            page.screenshot(path=str(out / "dashboard.png"), full_page=True)
        finally:
            browser.close()
    return {"message": message, "dashboard_clicks": int(clicks)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the app, e.g. http://127.0.0.1:8080")
    parser.add_argument("--out", type=Path, default=Path("reports/fullstack"))
    args = parser.parse_args(argv)
    seen = capture(args.url.rstrip("/"), args.out)
    print(f"{seen['message']}; the dashboard counts {seen['dashboard_clicks']} clicks today")
    print(f"screenshots: {args.out / 'viewer.png'}, {args.out / 'dashboard.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
