"""End to end: every chapter under the smoke profile, the book built with warnings as errors, the HTML
checked, and a second run from scratch giving byte-identical results and figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from bs4 import BeautifulSoup
from PIL import Image

from sgdtails.plotting import PAGE_WIDTH
from sgdtails.runner.profiles import load_config, toc_files
from tests.conftest import copy_book

pytestmark = pytest.mark.smoke
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"


def run_smoke(root: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sgdtails", "run", "--profile", "smoke", "--root", str(root),
                           "--no-progress", *extra], capture_output=True, text=True, timeout=1800)


@pytest.fixture(scope="module")
def smoke_root(tmp_path_factory) -> Path:
    root = copy_book(tmp_path_factory.mktemp("smoke") / "book_root")
    proc = run_smoke(root)
    assert proc.returncode == 0, f"smoke run failed:\n{proc.stderr[-4000:]}"
    print(proc.stdout)
    return root


@pytest.fixture(scope="module")
def built_html(smoke_root) -> Path:
    proc = subprocess.run([str(JUPYTER_BOOK), "build", str(smoke_root), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True, timeout=1200)
    warnings = [line for line in proc.stdout.splitlines() + proc.stderr.splitlines()
                if "WARNING" in line or "ERROR" in line]
    assert proc.returncode == 0, "book build failed:\n" + "\n".join(warnings or [proc.stdout[-3000:]])
    return smoke_root / "_build" / "html"


def test_every_chapter_runs_under_smoke(smoke_root):
    summary = json.loads((smoke_root / "_build" / "reports" / "summary-smoke.json").read_text())
    config = load_config(smoke_root)
    assert [n["name"] for n in summary["notebooks"]] == config.names
    assert all(n["status"] == "ok" for n in summary["notebooks"])


def test_book_builds_and_every_toc_page_exists(built_html, smoke_root):
    for entry in toc_files(smoke_root):
        assert (built_html / f"{entry}.html").is_file(), f"page for {entry} missing"


def _pages(html_root: Path, smoke_root: Path):
    for entry in toc_files(smoke_root):
        path = html_root / f"{entry}.html"
        yield path, BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def test_no_page_shows_an_error_or_traceback(built_html, smoke_root):
    for path, soup in _pages(built_html, smoke_root):
        main = soup.find("main") or soup
        assert not main.select(".output.traceback, .output.error, div.output.stderr"), path
        text = main.get_text()
        assert "Traceback (most recent call last)" not in text, path


def test_figures_exist_and_are_not_empty(built_html, smoke_root):
    n_images = 0
    for path, soup in _pages(built_html, smoke_root):
        for img in (soup.find("main") or soup).find_all("img"):
            src = img.get("src", "")
            if src.startswith("data:"):
                assert len(src) > 200, f"empty inline image on {path}"
            else:
                target = (path.parent / unquote(urlparse(src).path)).resolve()
                assert target.is_file() and target.stat().st_size > 0, f"{path}: missing image {src}"
            n_images += 1
    runnable = load_config(smoke_root).names
    assert n_images >= len(runnable) - 1  # every chapter but the reproduce page draws figures


def test_internal_links_resolve(built_html, smoke_root):
    for path, soup in _pages(built_html, smoke_root):
        for a in soup.find_all("a", href=True):
            url = urlparse(a["href"])
            if url.scheme or url.netloc or not url.path:
                continue
            target = (path.parent / unquote(url.path)).resolve()
            assert target.exists(), f"{path.name}: broken link {a['href']}"


def test_same_seed_same_bytes(smoke_root, tmp_path):
    """A second smoke run from scratch, with two chapters at a time (``--jobs 2``), reproduces every cached
    result and figure of the sequential run byte for byte."""
    other = copy_book(tmp_path / "again")
    proc = run_smoke(other, "--jobs", "2")
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads((other / "_build" / "reports" / "summary-smoke.json").read_text())
    assert [n["name"] for n in summary["notebooks"]] == load_config(other).names
    assert all(n["status"] == "ok" for n in summary["notebooks"])
    for kind, pattern in (("cache", "*.npz"), ("figures", "*.png")):
        first = {p.relative_to(smoke_root / "_build" / kind): p
                 for p in (smoke_root / "_build" / kind).rglob(pattern)}
        second = {p.relative_to(other / "_build" / kind): p for p in (other / "_build" / kind).rglob(pattern)}
        assert first.keys() == second.keys(), kind
        differing = [str(k) for k in first if first[k].read_bytes() != second[k].read_bytes()]
        assert not differing, f"{kind} differ between identical runs: {differing}"


def test_chapters_read_only_the_cache_entries_of_chapters_they_come_after(smoke_root):
    """In the cold sequential run, a chapter reads (cache hit) an entry another chapter wrote (cache miss)
    only if ``after`` in book/profiles.yml puts it after that chapter: so ``--jobs N`` never starts a
    chapter before its inputs exist."""
    config = load_config(smoke_root)
    written: dict[tuple[str, str], str] = {}
    reads: dict[str, set[tuple[str, str]]] = {}
    for name in config.names:
        log = smoke_root / "_build" / "reports" / f"{name}.cache.jsonl"
        events = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        for e in events:
            key = (e["namespace"], e["key"])
            if e["event"] == "miss":
                written.setdefault(key, name)
            else:
                reads.setdefault(name, set()).add(key)
    used = {(name, written[key]) for name, keys in reads.items() for key in keys
            if key in written and written[key] != name}
    assert used, "no chapter read another's results: the check below would be empty"
    undeclared = sorted((a, b) for a, b in used if b not in config.after.get(a, ()))
    assert not undeclared, f"chapters reading another's cache without 'after' in profiles.yml: {undeclared}"


def test_figures_fit_the_page_width(smoke_root):
    """Every saved figure is at most plotting.PAGE_WIDTH inches wide (at the theme's fonts of 9 pt or more,
    labels stay legible at the page's width); bbox_inches='tight' may add a little for outside legends."""
    too_wide = []
    for path in sorted((smoke_root / "_build" / "figures").rglob("*.png")):
        with Image.open(path) as img:
            dpi = img.info.get("dpi", (150, 150))[0]
            width_in = img.size[0] / float(dpi)
        if width_in > PAGE_WIDTH + 0.4:
            too_wide.append(f"{path.relative_to(smoke_root)}: {width_in:.1f} in")
    assert not too_wide, "figures wider than the page: " + ", ".join(too_wide)


def test_every_chapter_shows_its_parameters_once(built_html, smoke_root):
    """The values in effect appear once on a page (papermill's injected cell); the chapter's own defaults
    cell is hidden by the pipeline."""
    for name in load_config(smoke_root).names:
        page = (built_html / "book" / f"{name}.html").read_text(encoding="utf-8")
        soup = BeautifulSoup(page, "html.parser")
        cells = (soup.find("main") or soup).select("div.cell")
        shown = [c for c in cells if "profile = " in c.get_text()]
        assert len(shown) == 1, f"{name}: parameters shown {len(shown)} times"
        assert "tag_injected-parameters" in shown[0].get("class", [])
