"""The built dashboard as the package ships it: complete, self-contained, within its budget."""

from __future__ import annotations

import gzip
import json
import re

from tests.conftest import require


def _static():
    from labbook.dashboard import static_dir

    folder = static_dir()
    require(folder is not None, "the dashboard is not built (cd ui && npm ci && npm run build)")
    return folder


def test_index_references_only_files_in_the_bundle():
    folder = _static()
    index = (folder / "index.html").read_text()
    references = re.findall(r'(?:src|href)="([^"]+)"', index)
    assert any(r.endswith(".js") for r in references)
    for reference in references:
        if reference.startswith("data:"):
            continue
        assert not re.match(r"^(https?:)?//", reference), f"index.html loads {reference} from the network"
        assert (folder / reference).is_file(), f"index.html names {reference}, which the bundle lacks"
    # the runs page's chunks, which early.js preloads on the runs route: the page's own, then its imports
    chunks = re.search(r'<meta name="labbook-runs-chunks" content="([^"]*)"', index)
    assert chunks, "index.html does not name the runs page's chunks (ui/vite.config.ts, runsChunks)"
    files = chunks.group(1).split()
    manifest = json.loads((folder / ".vite" / "manifest.json").read_text())
    assert files and files[0] == manifest["src/pages/Runs.tsx"]["file"]
    assert all((folder / f).is_file() for f in files), files


def test_nothing_is_loaded_from_another_origin_at_run_time():
    folder = _static()
    for path in [*folder.glob("assets/*.js"), *folder.glob("assets/*.css")]:
        text = path.read_text(errors="replace")
        # imports and stylesheets (a URL in a string, e.g. in a licence comment, is not a load)
        assert not re.search(r'import\s*\(?\s*["\']https?://', text), path.name
        assert not re.search(r'@import\s+(url\()?["\']?https?://', text), path.name
        assert not re.search(r'url\(\s*["\']?https?://', text), path.name


def test_runs_page_initial_javascript_within_budget():
    folder = _static()
    manifest = json.loads((folder / ".vite" / "manifest.json").read_text())
    entry = next(key for key, chunk in manifest.items() if chunk.get("isEntry"))
    todo, seen = [entry, "src/pages/Runs.tsx"], set()
    while todo:
        key = todo.pop()
        if key not in seen:
            seen.add(key)
            todo.extend(manifest[key].get("imports", []))
    size = sum(len(gzip.compress((folder / manifest[k]["file"]).read_bytes(), 9)) for k in seen)
    assert "src/components/Chart.tsx" not in seen, "charts (uPlot) must load with the chart views, not first"
    assert size <= 150 * 1024, f"the runs page loads {size / 1024:.1f} KB of gzipped JavaScript first"
