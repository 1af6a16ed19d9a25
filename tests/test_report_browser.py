"""The HTML explorer in a real browser: headless system Chromium driven by Playwright.

Loads the report with every network request refused (it must work offline) and
checks: no console errors; the page's Pareto front equals amssim's; hovering a
front point shows a tooltip with that point's configuration; clicking it shows
its per-layer error and energy breakdown, equal to the stored values; filters
recompute the front. A screenshot is saved beside the report (path printed).

Skipped, with the reason printed, when Playwright or a Chromium binary is
missing. The browser is the system one (AMSSIM_CHROMIUM, else chromium on PATH,
else /usr/bin/chromium); nothing is downloaded.
"""

import os
import shutil
import sys

import pytest

from amssim.sweep import ResultStore, aggregate, pareto_front, point_labels

LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]


def _chromium():
    for cand in (os.environ.get("AMSSIM_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
                 "/usr/bin/chromium"):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


def _skip(reason):
    print(f"\nSKIPPED browser test: {reason}", file=sys.stderr)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip("playwright is not installed (pip install 'amssim[dev]')")
    exe = _chromium()
    if exe is None:
        _skip("no Chromium binary (apt-get install chromium, or set AMSSIM_CHROMIUM)")
    try:
        import plotly  # noqa: F401
    except ImportError:
        _skip("plotly is not installed (pip install 'amssim[report]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from test_report_html import make_store

    from amssim.reporting import write_html_report

    d = tmp_path_factory.mktemp("explorer")
    store = make_store(d / "s.jsonl")
    res = write_html_report(store, d / "report.html")
    return res.path, aggregate(ResultStore(store).rows)


def _open(browser, path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(120_000)  # a loaded 2-core CI machine parses 4.8 MB of JavaScript slowly
    problems, external = [], []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    def route(r):
        if r.request.url.startswith("file:"):
            r.continue_()
        else:  # offline: anything else is refused and recorded
            external.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto("file://" + os.path.abspath(path))
    page.wait_for_function("window.amssim !== undefined && document.querySelector('#scatter .scatterlayer')")
    return page, problems, external


def test_explorer_hover_click_filter(browser, report):
    path, summaries = report
    page, problems, external = _open(browser, path)
    labels = point_labels(summaries)
    front = pareto_front(summaries)
    assert page.evaluate("window.amssim.state.front") == front
    assert page.evaluate("window.amssim.state.shown.length") == len(summaries)

    # hover a front point in the middle of the front: the tooltip names its configuration
    i = front[len(front) // 2]
    x, y = page.evaluate(f"window.amssim.pointXY({i})")
    page.mouse.move(x, y)
    page.wait_for_selector(".hoverlayer .hovertext")
    tip = page.eval_on_selector(".hoverlayer .hovertext", "e => e.textContent")
    assert labels[i] in tip, tip
    assert f"accuracy {100 * summaries[i]['accuracy']:.4g}" in tip and "TOPS/W" in tip
    assert f"energy {summaries[i]['energy_j'] * 1e9:.4g}" in tip and "nJ" in tip  # fake energies ~1e-7 J

    # click it: its breakdown appears, equal to the stored values
    page.mouse.click(x, y)
    page.wait_for_function(f"window.amssim.state.selected === {i}")
    assert labels[i] in page.inner_text("#detail-title")
    layers = page.evaluate("document.getElementById('detail-layers').data")
    assert layers[0]["x"] == [L["name"] for L in summaries[i]["layers"]]
    assert layers[0]["y"] == [L["dy_std"] for L in summaries[i]["layers"]]
    energy = page.evaluate("document.getElementById('detail-energy').data[0]")
    breakdown = {k: v for k, v in summaries[i]["energy_breakdown_j"].items() if v}
    assert sorted(energy["x"]) == sorted(breakdown)
    factor = 1e9  # the fake runner's energies are about 1e-7 J: nJ
    for name, val in zip(energy["x"], energy["y"]):
        assert val == pytest.approx(breakdown[name] * factor, rel=1e-12)

    # filter: untick the digital device kind; the page's front is amssim's front of the rest
    page.click("fieldset[data-key='device_kind'] input[value='digital']")
    rest = [k for k, s in enumerate(summaries) if s.get("device_kind") != "digital"]
    sub = [summaries[k] for k in rest]
    assert page.evaluate("window.amssim.state.shown") == rest
    assert page.evaluate("window.amssim.state.front") == [rest[k] for k in pareto_front(sub)]

    # every colouring and axis scale draws without errors, and leaves the data alone
    for key in page.evaluate("window.amssim.data.colour_keys") + [""]:
        page.select_option("#colour-key", key)
        assert page.evaluate("window.amssim.state.front") == [rest[k] for k in pareto_front(sub)]
    for scale in ("log", "linear", "auto"):
        page.select_option("#xscale", scale)
        page.select_option("#yscale", scale if scale != "log" else "linear")

    shot = os.path.join(os.path.dirname(path), "explorer.png")
    page.click("fieldset[data-key='device_kind'] input[value='digital']")
    page.mouse.move(x, y)
    page.screenshot(path=shot, full_page=True)
    print(f"\nscreenshot: {shot}")
    assert os.path.getsize(shot) > 10_000
    assert problems == [] and page.evaluate("window.amssim.errors") == []
    assert external == []
    page.close()


def test_explorer_starts_on_one_trace(browser, tmp_path):
    from test_report_html import make_store

    from amssim.reporting import write_html_report

    store = make_store(tmp_path / "s.jsonl", devices=("dev",), traces=("wl/a", "wl/b"))
    res = write_html_report(store, tmp_path / "report.html")
    summaries = aggregate(ResultStore(store).rows)
    page, problems, external = _open(browser, res.path)
    first = [k for k, s in enumerate(summaries) if s["trace"] == "wl/a"]
    assert page.evaluate("window.amssim.state.shown") == first
    assert page.evaluate("window.amssim.state.front") == [first[k] for k in pareto_front([summaries[i] for i in first])]
    page.click("fieldset[data-key='trace'] input[value='wl/b']")
    assert page.evaluate("window.amssim.state.shown.length") == len(summaries)
    assert problems == [] and external == []
    page.close()
