"""QR posters for the patrol checkpoints of checklists/rules/checkpoints.yaml: one A4 page per checkpoint,
its QR code (segno, as inline SVG, so it prints as sharp vectors) opening `<base-url>/qr/<checkpoint id>` on
the form server, which records the scan and opens the patrol form for the checkpoint's area."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from ..files import write_atomically
from ..model import Handbook
from ..rules import Checkpoint
from .fonts import PrintFont, print_font
from .html import environment
from .render import render_pdf

QR_PATH = "/qr/"  # the form server's scan route (formserver.operations.checkpoints)


@dataclass(frozen=True)
class Poster:
    checkpoint: Checkpoint
    area: str  # the area's name
    number: int  # the checkpoint's place on its area's route
    of: int  # how many checkpoints the route has
    url: str


def checkpoint_url(base_url: str, checkpoint_id: str) -> str:
    """What the QR code of a checkpoint encodes: the server's address, then /qr/<id>."""
    return base_url.rstrip("/") + QR_PATH + checkpoint_id


def qr_code(url: str):
    """The QR code of `url`: error correction M at least (segno raises it when the size allows), so a
    scuffed or dirty poster still scans."""
    import segno

    return segno.make(url, error="m", micro=False)


def qr_svg(url: str) -> Markup:
    """The QR code as an inline <svg>, one unit per module, with the quiet zone of 4 modules."""
    return Markup(qr_code(url).svg_inline(scale=1, border=4, omitsize=True, title=url))


def posters(hb: Handbook, base_url: str) -> list[Poster]:
    points = hb.rules.checkpoints
    if points is None:
        return []
    out = []
    for area_id in points.areas():
        route = points.of_area(area_id)
        area = hb.organisation.areas[area_id].name
        out += [Poster(p, area, n, len(route), checkpoint_url(base_url, p.id)) for n, p in enumerate(route, 1)]
    return out


def poster_html(hb: Handbook, poster: Poster, font: PrintFont | None = None) -> str:
    form = hb.form(hb.rules.checkpoints.form)
    return environment().get_template("qr.html.j2").render(
        org=hb.organisation, poster=poster, form=form, font=font or print_font(hb.root), svg=qr_svg(poster.url))


def write_posters(hb: Handbook, outdir: str | Path, base_url: str) -> list[Path]:
    """<checkpoint id>.pdf and its print HTML <checkpoint id>.html for every checkpoint."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    font = print_font(hb.root)
    written = []
    for poster in posters(hb, base_url):
        html = poster_html(hb, poster, font)
        write_atomically(outdir / f"{poster.checkpoint.id}.html", html)
        write_atomically(outdir / f"{poster.checkpoint.id}.pdf", render_pdf(html))
        written += [outdir / f"{poster.checkpoint.id}.pdf", outdir / f"{poster.checkpoint.id}.html"]
    return written
