"""`make bench`: build-time figures for the handbook, measured on this machine, medians of several runs.

- cold build: a fresh `mkdocs build --strict` process, as `make site` runs it (target ≤ 8 s);
- rebuild after one edit: what `mkdocs serve` does when a regulation file changes: reload the config
  and rebuild in the same process (target ≤ 3 s);
- source load: `load_handbook` alone, to see how much of a build is ours.

Run: `make bench` (or `.venv/bin/python -m tests.bench [--runs N]`). PDF figures: `python -m tests.bench_pdf`.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
TARGET_COLD, TARGET_REBUILD = 8.0, 3.0


def _copy_project(into: Path, pdf: bool) -> Path:
    """A copy to build in; without PDFs the plugin is told `pdf: false` (the handbook targets exclude PDFs)."""
    project = into / ("with-pdf" if pdf else "project")
    for folder in ("regulations", "checklists", "docs"):
        shutil.copytree(PROJECT / folder, project / folder)
    config = (PROJECT / "mkdocs.yml").read_text(encoding="utf-8")
    if not pdf:
        config = config.replace("\n  - handbook\n", "\n  - handbook:\n      pdf: false\n")
        assert "pdf: false" in config
    (project / "mkdocs.yml").write_text(config, encoding="utf-8")
    return project


def cold_builds(project: Path, runs: int) -> list[float]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    times = []
    for _ in range(runs + 1):  # the first run warms the disk cache and jieba's model cache
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(project / "mkdocs.yml")],
                       cwd=project, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times[1:]


def rebuilds_after_edit(project: Path, runs: int) -> list[float]:
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    logging.getLogger("mkdocs").setLevel(logging.ERROR)
    os.chdir(project)
    target = project / "regulations" / "KF-11-handover.md"
    original = target.read_text(encoding="utf-8")
    build(load_config(str(project / "mkdocs.yml")))  # the first build of a `mkdocs serve` session
    times = []
    for run in range(runs):
        edited = original.replace("[KF-11.1] ", f"[KF-11.1] (第 {run} 次修改)", 1)
        target.write_text(edited, encoding="utf-8")
        start = time.perf_counter()
        build(load_config(str(project / "mkdocs.yml")), dirty=False)
        times.append(time.perf_counter() - start)
        assert f"第 {run} 次修改" in (project / "site/regulations/KF-11/index.html").read_text(encoding="utf-8")
    target.write_text(original, encoding="utf-8")
    return times


def source_loads(runs: int) -> list[float]:
    from handbook.load import load_handbook
    from handbook.site import build_pages

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        hb, _ = load_handbook(PROJECT)
        build_pages(hb)
        times.append(time.perf_counter() - start)
    return times


def report(name: str, times: list[float], target: float | None = None) -> None:
    median = statistics.median(times)
    verdict = "" if target is None else f"  target ≤ {target:.1f} s: {'met' if median <= target else 'MISSED'}"
    print(f"{name:<34} median {median:6.2f} s   min {min(times):6.2f}   max {max(times):6.2f}   "
          f"(n={len(times)}){verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"Handbook build benchmark on {os.cpu_count()} cores, {args.runs} runs each (medians quoted)")
    with tempfile.TemporaryDirectory() as tmp:
        project = _copy_project(Path(tmp), pdf=False)
        report("load source + generate pages", source_loads(args.runs))
        report("cold build, no PDFs (new process)", cold_builds(project, args.runs), TARGET_COLD)
        report("rebuild after one edit (serve)", rebuilds_after_edit(project, args.runs), TARGET_REBUILD)
        with_pdf = _copy_project(Path(tmp), pdf=True)
        report("build with PDFs, PDF cache warm", cold_builds(with_pdf, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
