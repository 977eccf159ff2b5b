"""The in-page denoiser (book/10_in_the_page.md) in headless Chromium, served as the book is.

The book is built (`jupyter-book build`, no re-execution) and served on 127.0.0.1, the way
tests/test_browser.py serves it: MathJax 3 from the CDN is swapped for Debian's MathJax 2, and the
page's onnxruntime-web CDN folder (jsDelivr, one pinned version) for a local copy of that same
version, installed from the npm registry into a cache folder when it is not there yet. The page is
driven through its own API (window.tinyddpmPage): the test sets a bundled digit, the noise that
Python drew and sigma, and compares the page's pixels (within 1e-3) and PSNR text with
tinyddpm.denoise(precision="fp32") on the same input. Mouse strokes on the canvas must change the
result; without WebAssembly the static fallback shows. Screenshots and the time per denoise go to
_build/screenshots/ (or $TINYDDPM_SCREENSHOTS).

Without Chromium, Debian's MathJax, npm or the npm registry the tests skip with a reason, or fail
when CI=true. The onnxruntime-web copy lives in $TINYDDPM_ORT_CACHE, default
~/.cache/tinyddpm/onnxruntime-web-<version> ($XDG_CACHE_HOME respected).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
from pathlib import Path

import pytest
import torch

from tinyddpm import denoise, load_sample
from tinyddpm.metrics import psnr

from .chromium import Chromium, find_chromium
from .test_browser import MATHJAX_DIRS, Server, build_book, need

ROOT = Path(__file__).resolve().parents[1]
PAGE = "book/10_in_the_page"
CDN_ORT = re.compile(r"https://cdn\.jsdelivr\.net/npm/onnxruntime-web@([0-9][0-9A-Za-z.\-]*)/dist/")
SIGMAS = (0.1, 0.3, 0.6, 1.0)


def pinned_ort_version() -> str:
    """The onnxruntime-web version the page loads from the CDN (one pin, in the page's source)."""
    versions = set(CDN_ORT.findall((ROOT / f"{PAGE}.md").read_text()))
    assert len(versions) == 1, f"the page must pin exactly one onnxruntime-web version, found {versions}"
    return versions.pop()


def ort_dist(version: str) -> Path:
    """onnxruntime-web's dist/ folder of ``version``, installed from the npm registry if absent."""
    cache = (
        os.environ.get("TINYDDPM_ORT_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        / "tinyddpm"
        / f"onnxruntime-web-{version}"
    )
    package = Path(cache) / "node_modules" / "onnxruntime-web"
    installed = package / "package.json"
    if not (installed.exists() and json.loads(installed.read_text()).get("version") == version):
        npm = need(shutil.which("npm"), "npm is not installed (it fetches onnxruntime-web for this test)")
        r = subprocess.run(
            [npm, "install", "--prefix", str(cache), f"onnxruntime-web@{version}", "--ignore-scripts",
             "--no-audit", "--no-fund", "--no-save"],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        need(
            package if r.returncode == 0 else None,
            f"npm install onnxruntime-web@{version} failed: {(r.stderr or r.stdout)[-500:]}",
        )
    dist = package / "dist"
    assert (dist / "ort.wasm.min.js").exists(), f"{dist} lacks ort.wasm.min.js"
    return dist


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory):
    """The book built once, served with local MathJax and onnxruntime-web; Chromium on the page."""
    chromium = need(find_chromium(), "no Chromium found (apt-get install chromium, or set CHROMIUM)")
    mathjax = need(
        next((d for d in MATHJAX_DIRS if (d / "MathJax.js").exists()), None),
        "no local MathJax 2 found (apt-get install libjs-mathjax)",
    )
    ort = ort_dist(pinned_ort_version())
    html, shots = build_book(tmp_path_factory)
    with (
        Server(
            html, mathjax, folders={"/_ort/": ort}, rewrite=lambda page: CDN_ORT.sub("/_ort/", page)
        ) as server,
        Chromium(chromium, width=1280, height=900) as browser,
    ):
        browser.goto(f"{server.url}/{PAGE}.html")
        yield {"browser": browser, "url": f"{server.url}/{PAGE}.html", "html": html, "shots": shots}


def screenshot(browser: Chromium, path: Path) -> None:
    """The whole page as a reader opens it: scrolled to the top, nothing focused."""
    browser.evaluate("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
    browser.screenshot(path)


def ready(browser: Chromium) -> None:
    """Wait until the page loaded onnxruntime-web and the model (or say why it could not)."""
    err = browser.evaluate(
        "tinyddpmPage.ready.then(() => null, (e) => String(e && e.message || e))", timeout=180
    )
    assert err is None, f"the page did not load the model: {err}"


def run_page(browser: Chromium, digit: torch.Tensor, noise: torch.Tensor, sigma: float) -> dict:
    """Set digit, noise and sigma through the page's API; its result with arrays as lists."""
    return browser.evaluate(
        f"""(async () => {{
          const p = window.tinyddpmPage;
          p.setDigit({json.dumps(digit.reshape(-1).tolist())});
          p.setNoise({json.dumps(noise.reshape(-1).tolist())});
          p.setSigma({sigma!r});
          const t0 = performance.now();
          const r = await p.result();
          return {{x0: Array.from(r.x0), y: Array.from(r.y), psnr: r.psnr, psnrText: r.psnrText,
                   ms: r.ms, roundTrip: performance.now() - t0, sigma: r.sigma,
                   shown: document.querySelector('#tinyddpm-in-page .tip-psnr').textContent}};
        }})()""",
        timeout=120,
    )


def test_page_matches_denoise(page):
    """Same digit, same noise, same sigma: the page's pixels within 1e-3 of denoise(), same PSNR text."""
    browser = page["browser"]
    ready(browser)
    images = load_sample()[0]
    results, worst = {}, {}
    for k, (index, sigma) in enumerate([(200, s) for s in SIGMAS] + [(700, 0.4)]):
        x = images[index]  # (1, 28, 28)
        n = torch.randn(x.shape, generator=torch.Generator().manual_seed(k))
        y = x + sigma * n  # pixel units, as the page computes it
        r = run_page(browser, x, n, sigma)
        assert r["sigma"] == sigma
        assert (torch.tensor(r["y"]) - y.reshape(-1)).abs().max() <= 1e-6
        ref = denoise(y, sigma, precision="fp32")  # (1, 28, 28)
        x0 = torch.tensor(r["x0"]).reshape(ref.shape)
        worst[(index, sigma)] = float((x0 - ref).abs().max())
        expected = float(psnr(ref[None], x[None])[0])
        assert abs(r["psnr"] - expected) < 1e-3, (r["psnr"], expected)
        assert r["shown"] == r["psnrText"] == f"{r['psnr']:.2f}"
        assert abs(float(r["shown"]) - expected) <= 0.006, (r["shown"], expected)
        results[(index, sigma)] = x0
    print(f"in-page vs denoise(fp32), max abs pixel difference: {max(worst.values()):.3g}")
    assert max(worst.values()) <= 1e-3, worst
    changes = [float((results[(200, a)] - results[(200, b)]).abs().max()) for a, b in zip(SIGMAS, SIGMAS[1:])]
    assert min(changes) > 0.02, f"the output hardly changes with sigma: {changes}"


def test_time_per_denoise(page):
    """One network call in the page, timed by the page (session.run) and by the test (round trip)."""
    browser = page["browser"]
    ready(browser)
    x = load_sample()[0][300]
    n = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    run_page(browser, x, n, 0.5)  # warm up
    rows = [run_page(browser, x, n, s) for s in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)]
    timing = {
        "in_page_ms_median": statistics.median(r["ms"] for r in rows),
        "round_trip_ms_median": statistics.median(r["roundTrip"] for r in rows),
        "runs": len(rows),
        "user_agent": browser.evaluate("navigator.userAgent"),
    }
    (page["shots"] / "in_page_timing.json").write_text(json.dumps(timing, indent=1))
    print(f"in-page denoise: {timing}")
    assert timing["in_page_ms_median"] < 2000


def test_drawing_with_the_mouse_and_picking_a_digit(page):
    """Real mouse strokes on the canvas change the digit and the result; a digit button picks one."""
    browser = page["browser"]
    ready(browser)
    browser.evaluate("document.querySelector('#tinyddpm-in-page .tip-clear').click()")
    box = browser.evaluate(
        """(() => { const c = document.querySelector('#tinyddpm-in-page .tip-draw');
             c.scrollIntoView({block: 'center'}); const b = c.getBoundingClientRect();
             return {x: b.left, y: b.top, w: b.width, h: b.height}; })()"""
    )
    blank = browser.evaluate("tinyddpmPage.result().then((r) => Array.from(r.x0))")

    def at(u: float, v: float) -> dict:  # a point of the 28x28 grid in the page's CSS pixels
        return {"x": box["x"] + box["w"] * u / 28, "y": box["y"] + box["h"] * v / 28}

    stroke = [(8, 7), (20, 7), (17, 13), (14, 19), (12, 23)]  # a seven
    browser.call(
        "Input.dispatchMouseEvent", type="mousePressed", button="left", clickCount=1, **at(*stroke[0])
    )
    for u, v in stroke[1:]:
        for k in range(1, 9):
            pu, pv = stroke[stroke.index((u, v)) - 1]
            browser.call(
                "Input.dispatchMouseEvent", type="mouseMoved", button="left", buttons=1,
                **at(pu + (u - pu) * k / 8, pv + (v - pv) * k / 8),
            )  # fmt: skip
    browser.call(
        "Input.dispatchMouseEvent", type="mouseReleased", button="left", clickCount=1, **at(*stroke[-1])
    )
    browser.evaluate("tinyddpmPage.setSigma(0.3)")
    drawn = browser.evaluate("tinyddpmPage.result().then((r) => Array.from(r.x0))")
    ink = browser.evaluate(
        "(() => { const c = document.querySelector('#tinyddpm-in-page .tip-draw').getContext('2d');"
        " return Array.from(c.getImageData(0, 0, 28, 28).data).filter((v, i) => i % 4 === 0 && v > 128)"
        ".length; })()"
    )
    assert ink > 20, f"the stroke left {ink} bright pixels on the drawing pad"
    assert max(abs(a - b) for a, b in zip(drawn, blank)) > 0.3, "drawing did not change the result"
    screenshot(browser, page["shots"] / "in_page_drawn.png")

    browser.evaluate(
        "[...document.querySelectorAll('#tinyddpm-in-page .tip-digits button')]"
        ".find((b) => b.textContent === '8').click()"
    )
    picked = browser.evaluate("tinyddpmPage.result().then((r) => r.psnr)")
    table = json.loads((page["html"] / "_static" / "in_page" / "ddpm_posterior_mean.json").read_text())
    assert [d["label"] for d in table["digits"]].count(8) == 1
    assert picked > 15, f"a bundled 8 denoised at sigma 0.3 to {picked:.1f} dB"
    screenshot(browser, page["shots"] / "in_page_picked.png")


def test_fallback_without_webassembly(page):
    """A browser without WebAssembly sees the static figure and the reason, not the dead widget."""
    browser = page["browser"]
    script = browser.call("Page.addScriptToEvaluateOnNewDocument", source="delete globalThis.WebAssembly;")
    try:
        browser.goto(page["url"])
        f = browser.evaluate(
            """(async () => {
                 const img = document.querySelector('.tip-fallback img');
                 if (img && !img.complete) await new Promise((r) => { img.onload = img.onerror = r; });
                 return {live: document.querySelector('#tinyddpm-in-page .tip-live').hidden,
                         fallback: document.querySelector('.tip-fallback').hidden,
                         shown: getComputedStyle(document.querySelector('.tip-fallback')).display,
                         why: document.querySelector('.tip-why').textContent,
                         image: img ? img.naturalWidth : 0}; })()"""
        )
    finally:
        browser.call("Page.removeScriptToEvaluateOnNewDocument", identifier=script["identifier"])
        browser.goto(page["url"])
    assert f["live"] and not f["fallback"] and f["shown"] != "none", f
    assert "WebAssembly" in f["why"] and f["image"] > 0, f


def test_script_and_model_load_on_this_page_only(page):
    """The page's script is not on any other page; the footnote names the pinned version."""
    html = page["html"]
    others = [
        p
        for p in html.glob("**/*.html")
        if "denoise_in_page.js" in p.read_text() and p.stem != "10_in_the_page"
    ]
    assert others == []
    text = (html / f"{PAGE}.html").read_text()
    assert f"onnxruntime-web {pinned_ort_version()} (MIT licence" in text
