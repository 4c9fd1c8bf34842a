"""`handbook qr`: one A4 poster per patrol checkpoint, naming it and its area, with a QR code that opens the
form server's scan URL. The code is checked twice: the SVG in the print HTML is segno's code of the expected
URL, and the printed page, rasterised by poppler, shows that code's modules."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from handbook.cli import main
from handbook.load import require_handbook
from handbook.pdf.qr import checkpoint_url, qr_code
from tests.server_support import ROOT

BASE = "https://forms.example.cn/"


@pytest.fixture(scope="module")
def hb():
    return require_handbook(ROOT)


@pytest.fixture(scope="module")
def posters(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("qr")
    assert main(["--root", str(ROOT), "qr", str(out), "--base-url", BASE]) == 0
    return out


def text(pdf: Path) -> str:
    return re.sub(r"\s+", "", subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                                             check=True).stdout)


def svg_matrix(html: str) -> list[list[bool]]:
    """The dark modules segno's <path> draws (absolute M, then relative m moves and h runs, one per row)."""
    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', html).group(1))
    d = re.search(r'<path[^>]* d="([^"]+)"', html).group(1)
    grid = [[False] * size for _ in range(size)]
    x = y = 0.0
    for op, args in re.findall(r"([Mmh])([-\d. ]+)", d):
        numbers = [float(n) for n in args.split()]
        if op == "M":
            x, y = numbers
        elif op == "m":
            x, y = x + numbers[0], y + numbers[1]
        else:
            for column in range(int(x), int(x + numbers[0])):
                grid[int(y)][column] = True
            x += numbers[0]
    return grid


def segno_matrix(url: str) -> list[list[bool]]:
    return [[bool(v) for v in row] for row in qr_code(url).matrix_iter(scale=1, border=4)]


def test_one_poster_per_checkpoint_with_its_name_and_area(hb, posters):
    points = hb.rules.checkpoints.points
    assert sorted(p.name for p in posters.glob("*.pdf")) == sorted(f"{p.id}.pdf" for p in points)
    for point in points[:3] + points[-1:]:
        pdf = posters / f"{point.id}.pdf"
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert re.search(r"Pages:\s+1\n", info) and "595.276 x 841.89" in info  # one A4 page
        page = text(pdf)
        assert point.name in page and hb.organisation.areas[point.area].name in page
        assert re.sub(r"\s+", "", point.location) in page
        assert f"https://forms.example.cn/qr/{point.id}" in page  # typed in when a camera cannot scan


def test_the_qr_code_is_segnos_code_of_the_scan_url(hb, posters):
    assert checkpoint_url(BASE, "f1-desk") == "https://forms.example.cn/qr/f1-desk"
    for point in hb.rules.checkpoints.points:
        html = (posters / f"{point.id}.html").read_text(encoding="utf-8")
        assert svg_matrix(html) == segno_matrix(f"https://forms.example.cn/qr/{point.id}"), point.id
    other = (posters / "f1-east-gate.html").read_text(encoding="utf-8")
    assert svg_matrix(other) != segno_matrix("https://forms.example.cn/qr/f1-desk")


def read_pgm(data: bytes) -> tuple[int, int, bytes]:
    header = re.match(rb"P5\s+(\d+)\s+(\d+)\s+255\s", data)
    return int(header.group(1)), int(header.group(2)), data[header.end():]


def test_the_printed_page_shows_that_code(posters, tmp_path):
    """Rasterise the PDF and read the modules back: find the top-left finder pattern (the first row with a
    dark run of 7 modules), then sample each module's centre."""
    url = "https://forms.example.cn/qr/parking-b1"
    subprocess.run(["pdftoppm", "-gray", "-r", "150", "-singlefile", str(posters / "parking-b1.pdf"),
                    str(tmp_path / "page")], check=True)
    width, height, pixels = read_pgm((tmp_path / "page.pgm").read_bytes())
    dark = [[pixels[y * width + x] < 128 for x in range(width)] for y in range(height)]
    expected = segno_matrix(url)
    size = len(expected) - 8  # without the quiet zone
    finder = 150 / 25.4 * 120 / (size + 8) * 7  # 7 modules of a 120 mm code, in pixels
    top = left = run_length = None
    for y in range(height):
        run = 0
        for x in range(width):
            run = run + 1 if dark[y][x] else 0
            if run >= finder * 0.9 and (x + 1 == width or not dark[y][x + 1]):
                top, left, run_length = y, x + 1 - run, run
                break
        if top is not None:
            break
    assert top is not None, "no finder pattern on the page"
    module = run_length / 7
    read = [[dark[int(top + (r + 0.5) * module)][int(left + (c + 0.5) * module)] for c in range(size)]
            for r in range(size)]
    assert read == [row[4:-4] for row in expected[4:-4]]


def test_a_base_url_that_is_not_one_is_refused(capsys, tmp_path):
    assert main(["--root", str(ROOT), "qr", str(tmp_path / "out"), "--base-url", "forms.example.cn"]) == 1
    assert "不是网址" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_no_checkpoints_is_a_clear_error(mini_project, capsys):
    assert main(["--root", str(mini_project), "qr", str(mini_project / "out"), "--base-url", BASE]) == 1
    assert "checkpoints.yaml" in capsys.readouterr().err


def test_the_patrol_forms_page_lists_the_checkpoints(hb):
    from handbook.site import build_pages

    page = build_pages(hb)["forms/patrol.md"]
    assert "- **巡更点**:巡查路线上贴有巡更点二维码" in page
    assert "### 巡更点" in page
    assert "| 一层大堂及总服务台 | 总服务台 | 一层大堂总服务台左侧立柱 | `f1-desk` |" in page
    assert "巡更点" not in build_pages(hb)["forms/handover.md"]
