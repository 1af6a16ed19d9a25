"""Screenshot of the HTML explorer for the README (headless system Chromium via Playwright).

Hovers the middle point of the Pareto front and clicks it, so the picture shows a
tooltip and the per-layer breakdown. Usage:
``python plots/explorer_screenshot.py REPORT.html OUT.png`` (AMSSIM_CHROMIUM
overrides the browser path, default: chromium on PATH).
"""

import os
import shutil
import sys

from playwright.sync_api import sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main(report: str, out: str) -> None:
    exe = os.environ.get("AMSSIM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1010})
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
        page.goto("file://" + os.path.abspath(report))
        page.wait_for_function("window.amssim !== undefined && document.querySelector('#scatter .scatterlayer')")
        front = page.evaluate("window.amssim.state.front")
        i = front[len(front) // 2]
        x, y = page.evaluate(f"window.amssim.pointXY({i})")
        page.mouse.click(x, y)
        page.wait_for_function(f"window.amssim.state.selected === {i}")
        page.mouse.move(x + 1, y)
        page.wait_for_selector(".hoverlayer .hovertext")
        page.screenshot(path=out)
        browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
