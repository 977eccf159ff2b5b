"""The built book as a reader sees it: every page loaded in headless Chromium, the DOM read after
its scripts ran (tests/browser_check.js measures, this file judges).

Per page, at a 1280 x 900 window: tables are HTML tables (no line of visible text with three
or more table bars `|`); every image loaded; no output block sticks out of the text column or
scrolls sideways, unless its cell is tagged to scroll by design (`output_scroll`, the Jupyter
Book tag); MathJax typeset every formula without an error node; a notebook's Colab button opens
that notebook under the repository URL of _config.yml. A full-page screenshot of each page is
kept in _build/screenshots/ (or $TINYDDPM_SCREENSHOTS), not committed.

The CDN that serves MathJax is not reachable offline, so the test serves the built HTML itself
(127.0.0.1) and, on the fly, swaps the MathJax 3 script for Debian's libjs-mathjax (2.7), with
TeX's noErrors/noUndefined extensions off so that a bad formula becomes an error node.

Chromium is Debian's package (.ci/run installs it; a Chrome on PATH or $CHROMIUM also works).
Without one the tests skip with a one-line reason, or fail if CI=true. Figure legibility:
tests/test_viz.py checks the label glyph heights viz draws against
viz.TEXT_COLUMN_PX; test_text_column_is_as_wide_as_viz_assumes checks that width here.
"""

from __future__ import annotations

import functools
import http.server
import io
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from .chromium import Chromium, find_chromium

ROOT = Path(__file__).resolve().parents[1]
CHECK_JS = (Path(__file__).parent / "browser_check.js").read_text()
MATHJAX_DIRS = (Path("/usr/share/javascript/mathjax"), Path("/usr/share/mathjax"))
CDN_MATHJAX = re.compile(r'<script[^>]*src="https://cdn\.jsdelivr\.net/npm/mathjax@3[^"]*"[^>]*></script>')
MATHJAX3_CONFIG = re.compile(r"<script>window\.MathJax = .*?</script>")
MATHJAX2 = (
    '<script type="text/x-mathjax-config">MathJax.Hub.Config({messageStyle: "none", '
    'tex2jax: {inlineMath: [["\\\\(", "\\\\)"]], displayMath: [["\\\\[", "\\\\]"]], '
    'processClass: "tex2jax_process|mathjax_process|math|output_area", '
    'ignoreClass: "tex2jax_ignore|mathjax_ignore"}, '
    "TeX: {noErrors: {disabled: true}, noUndefined: {disabled: true}}})</script>"
    '<script src="/_mathjax/MathJax.js?config=TeX-AMS_CHTML"></script>'
)


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]


PAGES = toc_pages()


def need(thing: str | None, why: str) -> str:
    """`thing`, or skip with `why` (fail instead when CI=true: CI must run this test)."""
    if thing is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {why}")
        pytest.skip(why)
    return thing


class Server:
    """Serve `root` on 127.0.0.1 (a free port); .html pages get local MathJax 2 instead of the CDN's 3.

    ``folders`` serves more local folders under URL prefixes (``{"/_ort/": path}``) and ``rewrite``
    changes each .html page once more (tests/test_in_page.py points the CDN's onnxruntime-web at
    its local copy); .wasm files go out as application/wasm.
    """

    def __init__(
        self,
        root: Path,
        mathjax: Path,
        *,
        folders: dict[str, Path] | None = None,
        rewrite: Callable[[str], str] | None = None,
    ) -> None:
        prefixes = {"/_mathjax/": mathjax, **(folders or {})}

        class Handler(http.server.SimpleHTTPRequestHandler):
            extensions_map = {
                **http.server.SimpleHTTPRequestHandler.extensions_map,
                ".wasm": "application/wasm",
                ".mjs": "text/javascript",
                ".onnx": "application/octet-stream",
            }

            def translate_path(self, path: str) -> str:
                path = path.split("?", 1)[0]
                for prefix, folder in prefixes.items():
                    if path.startswith(prefix):
                        return str(folder / path[len(prefix) :])
                return super().translate_path(path)

            def send_head(self):
                target = Path(self.translate_path(self.path))
                if target.suffix != ".html" or not target.is_file():
                    return super().send_head()
                page = MATHJAX3_CONFIG.sub("", CDN_MATHJAX.sub(lambda m: MATHJAX2, target.read_text()))
                body = (rewrite(page) if rewrite else page).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                return io.BytesIO(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
        )
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium (1280 x 900 window) and Debian's MathJax 2 for every test here."""
    chromium = need(find_chromium(), "no Chromium found (apt-get install chromium, or set CHROMIUM)")
    mathjax = need(
        next((d for d in MATHJAX_DIRS if (d / "MathJax.js").exists()), None),
        "no local MathJax 2 found (apt-get install libjs-mathjax)",
    )
    with Chromium(chromium, width=1280, height=900) as b:
        b.mathjax = mathjax
        yield b


def build_book(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The book built (`jupyter-book build`, no re-execution) into a temporary folder: (its HTML
    folder, the folder for screenshots)."""
    exe = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book")
    exe = need(exe, "jupyter-book is not installed (pip install -e '.[book]')")
    out = tmp_path_factory.mktemp("book")
    r = subprocess.run(
        [exe, "build", str(ROOT), "--path-output", str(out)], capture_output=True, text=True, timeout=1200
    )
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    shots = Path(os.environ.get("TINYDDPM_SCREENSHOTS", ROOT / "_build" / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    return out / "_build" / "html", shots


@pytest.fixture(scope="module")
def site(browser, tmp_path_factory: pytest.TempPathFactory):
    """The book built once and served on 127.0.0.1."""
    html, shots = build_book(tmp_path_factory)
    with Server(html, browser.mathjax) as server:
        yield {"url": server.url, "html": html, "browser": browser, "shots": shots, "facts": {}}


@functools.cache
def _config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def colab_link(page: str) -> str:
    """The Colab launch URL that _config.yml implies for the notebook behind `page`."""
    cfg = _config()
    repo = cfg["repository"]
    owner_name = re.sub(r"^https://github\.com/|/$", "", repo["url"])
    path = (repo.get("path_to_book") or "").strip("/")
    path = f"{path}/{page}.ipynb" if path else f"{page}.ipynb"
    colab = cfg["launch_buttons"]["colab_url"].rstrip("/")
    return f"{colab}/github/{owner_name}/blob/{repo['branch']}/{path}"


def facts(site: dict, page: str) -> dict:
    """Load `page` once, run the checks in it, keep a full-page screenshot; cached per page."""
    if page not in site["facts"]:
        browser: Chromium = site["browser"]
        browser.goto(f"{site['url']}/{page}.html")
        site["facts"][page] = browser.evaluate(CHECK_JS, timeout=90)
        browser.screenshot(site["shots"] / f"{page.replace('/', '__')}.png")
    return site["facts"][page]


def table_problems(f: dict) -> list[str]:
    if not f["pipeLines"]:
        return []
    return [
        (
            f"a table that is not a <table> ({len(f['pipeLines'])} line(s) of visible text with 3+ '|'), "
            f"first: {f['pipeLines'][0][:160]!r}"
        )
    ]


def image_problems(f: dict) -> list[str]:
    broken = [i["src"] for i in f["images"] if i["naturalWidth"] == 0]
    return [f"images that did not load: {broken}"] if broken else []


def width_problems(f: dict) -> list[str]:
    return [
        f"output {w['kind']} (text column {f['column']['right'] - f['column']['left']:.0f} px): "
        f"<{w['what'][:50]}> {w['text'][:70]!r}"
        + (f" needs {w['scrollWidth']} px" if "scrollWidth" in w else "")
        for w in f["wide"]
    ]


def math_problems(f: dict) -> list[str]:
    math, out = f["math"], []
    if math["nodes"] and not math["mathjax"]:
        out.append("the page has math but MathJax did not load")
    elif math["rendered"] < math["nodes"]:
        out.append(f"MathJax typeset {math['rendered']} of {math['nodes']} formulas")
    if math["errors"]:
        out.append(f"MathJax error nodes: {math['errors'][:5]}")
    return out


def report(site: dict, page: str, problems: list[str]) -> str:
    shot = site["shots"] / f"{page.replace('/', '__')}.png"
    return f"{page} (screenshot {shot}):\n  " + "\n  ".join(problems)


def test_every_toc_page_was_built(site):
    built = {str(p.relative_to(site["html"]).with_suffix("")) for p in site["html"].glob("**/*.html")}
    assert set(PAGES) <= built, set(PAGES) - built


@pytest.mark.parametrize("page", PAGES)
def test_tables_are_html_tables(site, page):
    problems = table_problems(facts(site, page))
    assert not problems, report(site, page, problems)


@pytest.mark.parametrize("page", PAGES)
def test_images_loaded(site, page):
    problems = image_problems(facts(site, page))
    assert not problems, report(site, page, problems)


@pytest.mark.parametrize("page", PAGES)
def test_outputs_fit_the_text_column(site, page):
    """Nothing sticks out of the column or scrolls sideways, unless its cell is tagged output_scroll."""
    problems = width_problems(facts(site, page))
    assert not problems, report(site, page, problems)


@pytest.mark.parametrize("page", PAGES)
def test_mathjax_typesets_every_formula(site, page):
    problems = math_problems(facts(site, page))
    assert not problems, report(site, page, problems)


@pytest.mark.parametrize("page", [p for p in PAGES if (ROOT / f"{p}.ipynb").exists()])
def test_colab_button_opens_this_notebook(site, page):
    links = facts(site, page)["colab"]
    assert colab_link(page) in links, report(site, page, [f"expected {colab_link(page)}, found {links}"])


def test_text_column_is_as_wide_as_viz_assumes(site):
    """viz sizes its label fonts for a text column of viz.TEXT_COLUMN_PX at a 1280 px window."""
    from tinyddpm import viz

    widths = {p: facts(site, p)["column"]["right"] - facts(site, p)["column"]["left"] for p in PAGES}
    assert all(w >= viz.TEXT_COLUMN_PX - 1 for w in widths.values()), (viz.TEXT_COLUMN_PX, widths)


BAD_PAGE = """<!DOCTYPE html><html><head><title>defects</title>
<script>window.MathJax = {"options": {"processHtmlClass": "math"}}</script>
<script defer="defer" src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>
</head><body><div style="width: 1280px"><article class="bd-article" style="width: 700px; padding: 0 30px">
<section class="tex2jax_ignore mathjax_ignore"><h1>Defects</h1>
<p>| method | PSNR | |---|---| | a | 1 |</p>
<p>not tables: alpha_{t|s} = a_{t|s} / b_{t|s}; || x - y ||^2 and || y ||</p>
<p>fine: <span class="math notranslate nohighlight">\\(x_t = \\sqrt{\\bar\\alpha_t}\\, x_0\\)</span></p>
<p>broken: <span class="math notranslate nohighlight">\\(\\nosuchmacro{x}\\)</span></p>
<div class="cell"><div class="cell_output"><div class="output"><pre style="overflow: auto">{wide}</pre></div>
<img src="missing.png" alt="missing"><img src="dot.png" alt="dot"></div></div>
<div class="cell"><div class="cell_output"><div style="width: 900px">sticks out</div></div></div>
<div class="cell tag_output_scroll"><div class="cell_output">
<pre style="overflow: auto">{wide}</pre></div></div>
</section></article></div></body></html>"""


def test_the_checks_catch_each_defect(browser, tmp_path):
    """The browser checks themselves: a page with one of each defect fails each check, once."""
    from PIL import Image

    (tmp_path / "bad.html").write_text(BAD_PAGE.replace("{wide}", "x " * 200))
    Image.new("L", (4, 4)).save(tmp_path / "dot.png")
    with Server(tmp_path, browser.mathjax) as server:
        browser.goto(f"{server.url}/bad.html")
        f = browser.evaluate(CHECK_JS, timeout=90)
    assert len(table_problems(f)) == 1 and "| method | PSNR |" in f["pipeLines"][0], f["pipeLines"]
    assert image_problems(f) == ["images that did not load: ['missing.png']"]
    assert [w["kind"] for w in f["wide"]] == ["scrolls", "sticks out"], f["wide"]
    assert f["math"]["mathjax"] and f["math"]["rendered"] == f["math"]["nodes"] == 2, f["math"]
    assert len(f["math"]["errors"]) == 1 and "nosuchmacro" in f["math"]["errors"][0], f["math"]
