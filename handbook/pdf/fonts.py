"""The print font: a subset of WenQuanYi Micro Hei made once with fontTools and cached on disk.

Subsetting a whole CJK font at every render dominates WeasyPrint's time, and embedding it whole makes
megabyte PDFs. So we cut WenQuanYi Micro Hei down once to GB2312 (both levels of hanzi and its symbol
rows), ASCII, Latin-1, CJK and general punctuation, and every character that occurs in regulations/
and checklists/, under a family name of its own; the templates load it by @font-face and name the full
system font second, for user text outside the subset (rare name characters).

Each cached subset has a sidecar JSON naming the source font (path, size, mtime), this module's recipe
and the characters it holds beyond the fixed set; a render uses a cached subset only if all of these
match and it covers every character of the current sources, so a new character in the regulations or
an updated system font makes a new subset, and a stale one is never used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from ..files import write_atomically

log = logging.getLogger(__name__)

FAMILY = "WQY MicroHei Forms"  # the subset's own family name: never confused with the system font
SYSTEM_FAMILY = "WenQuanYi Micro Hei"  # the full font: fallback for characters outside the subset
POSTSCRIPT_NAME = "WQYMicroHeiForms"
RECIPE = "3"  # bump when the way the subset is made changes
SOURCE_DIRS = ("regulations", "checklists")
SOURCE_SUFFIXES = (".md", ".yaml", ".yml", ".txt")


class FontError(RuntimeError):
    """The print font could not be found or made; the message is Chinese and says what to do."""


def _gb2312() -> set[str]:
    """Every character of GB2312: symbol rows 1–9, level-1 (16–55) and level-2 (56–87) hanzi."""
    chars = set()
    for row in range(0xA1, 0xF8):
        for cell in range(0xA1, 0xFF):
            try:
                chars.add(bytes((row, cell)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return chars


def _ranges(*spans: tuple[int, int]) -> set[str]:
    return {chr(c) for start, end in spans for c in range(start, end + 1)}


def base_characters() -> set[str]:
    """The fixed part of the character set (without the characters of the sources)."""
    return _gb2312() | _ranges(
        (0x20, 0x7E),  # ASCII
        (0xA0, 0xFF),  # Latin-1 supplement: × ÷ ° · ± and accented names
        (0x2010, 0x2027), (0x2030, 0x203B),  # dashes, quotes, ellipsis, ‰, ※
        (0x2100, 0x2122), (0x2160, 0x216B),  # ℃ № ™, Roman numerals
        (0x2190, 0x2193), (0x2460, 0x2473),  # arrows, circled numbers ①–⑳
        (0x3000, 0x303F),  # CJK symbols and punctuation
        (0xFF01, 0xFF5E), (0xFFE0, 0xFFE5),  # full-width forms, ¥ ￥
    )


def source_characters(root: Path) -> set[str]:
    """Every character used in the project's regulations/ and checklists/ files."""
    chars: set[str] = set()
    for name in SOURCE_DIRS:
        folder = root / name
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.suffix in SOURCE_SUFFIXES and path.is_file():
                try:
                    chars.update(path.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError):
                    continue  # `handbook check` reports unreadable sources
    return {c for c in chars if c.isprintable() and c != "\ufeff"}


def system_font_file(family: str = SYSTEM_FAMILY) -> Path:
    """The file fontconfig gives for `family`, if it really is that family."""
    try:
        result = subprocess.run(["fc-match", "-f", "%{file}\n%{family}", family], capture_output=True,
                                text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        raise FontError(f"无法运行 fc-match 查找字体“{family}”:{error}") from error
    lines = result.stdout.splitlines()
    if result.returncode != 0 or len(lines) < 2 or family.lower() not in lines[1].lower():
        raise FontError(f"系统中没有找到字体“{family}”:请安装 Debian 软件包 fonts-wqy-microhei")
    return Path(lines[0])


@dataclass(frozen=True)
class PrintFont:
    path: Path  # the subset font file
    family: str = FAMILY
    fallback: str = SYSTEM_FAMILY

    @property
    def url(self) -> str:
        return self.path.resolve().as_uri()

    @property
    def css_family(self) -> str:
        return f'"{self.family}", "{self.fallback}", sans-serif'


_lock = threading.Lock()
_made: dict[tuple, PrintFont] = {}


def default_cache_dir(root: Path) -> Path:
    """`HANDBOOK_FONT_CACHE` if set, else `.cache/fonts/` in the project root (ignored by git)."""
    env = os.environ.get("HANDBOOK_FONT_CACHE")
    return Path(env) if env else root / ".cache" / "fonts"


def _sources_signature(root: Path) -> tuple:
    """Cheap fingerprint of the sources (names, sizes, mtimes) to skip re-reading them."""
    entries = []
    for name in SOURCE_DIRS:
        folder = root / name
        if folder.is_dir():
            for path in folder.rglob("*"):
                if path.suffix in SOURCE_SUFFIXES:
                    try:
                        st = path.stat()
                    except OSError:
                        continue
                    entries.append((str(path), st.st_size, st.st_mtime_ns))
    return tuple(sorted(entries))


def print_font(root: str | Path, cache_dir: str | Path | None = None) -> PrintFont:
    """The subset print font for the project at `root`, made on first use and cached on disk.

    Cheap after the first call in a process (a stat of the source files). A cached subset made for
    more characters than needed is reused (so another project, or a source that dropped a character,
    does not make a new one). Safe from several threads and processes: files are written under a
    temporary name and renamed into place.
    """
    root = Path(root).resolve()
    cache = Path(cache_dir).resolve() if cache_dir else default_cache_dir(root).resolve()
    key = (str(root), str(cache), _sources_signature(root))
    with _lock:
        font = _made.get(key)
        if font is not None and font.path.exists():
            return font
        source = system_font_file()
        base = base_characters()
        extra = "".join(sorted(source_characters(root) - base))
        stat = source.stat()
        identity = "\n".join((RECIPE, str(source), str(stat.st_size), str(stat.st_mtime_ns)))
        path = _cached(cache, identity, extra)
        if path is None:
            digest = hashlib.sha256(f"{identity}\n{extra}".encode()).hexdigest()[:16]
            path = cache / f"{PREFIX}{digest}.ttf"
            _make_subset(source, base | set(extra), path)
            write_atomically(path.with_suffix(".json"), json.dumps({"identity": identity, "extra": extra},
                                                              ensure_ascii=False))
            _remove_superseded(cache, identity, extra, keep=path)
        font = PrintFont(path)
        _made[key] = font
        return font


PREFIX = "wqy-microhei-forms-"


def _entries(cache: Path):
    """(font path, identity, extra characters) of every complete cached subset."""
    for meta in sorted(cache.glob(f"{PREFIX}*.json")):
        font = meta.with_suffix(".ttf")
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if font.exists() and isinstance(data, dict):
            yield font, data.get("identity"), str(data.get("extra", ""))


def _cached(cache: Path, identity: str, extra: str) -> Path | None:
    """A cached subset of this source font covering `extra`, the smallest such."""
    need = set(extra)
    fits = [(len(have), font) for font, ident, have in _entries(cache) if ident == identity and need <= set(have)]
    return min(fits)[1] if fits else None


def made_fonts() -> list[Path]:
    """The print font files this process has made or found (the URL fetcher lets these through)."""
    with _lock:
        return [font.path for font in _made.values()]


def _make_subset(source: Path, chars: set[str], target: Path) -> None:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    log.info("making the print font subset %s (%d characters)", target.name, len(chars))
    try:
        font = TTFont(source, fontNumber=0, lazy=False) if source.suffix.lower() in (".ttc", ".otc") \
            else TTFont(source)
    except Exception as error:  # fontTools raises many kinds on a broken file
        raise FontError(f"无法读取字体文件 {source}:{error}") from error
    options = subset.Options()
    options.hinting = False  # PDF viewers do not use TrueType hints; dropping them halves the size
    options.desubroutinize = True
    options.notdef_outline = True
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14, 16, 17]
    options.name_languages = ["*"]
    options.layout_features = []  # horizontal Chinese needs no GSUB/GPOS features
    options.drop_tables += ["FFTM", "GSUB", "GPOS", "GDEF", "vhea", "vmtx", "gasp"]
    options.ignore_missing_unicodes = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in chars))
    quiet = logging.getLogger("fontTools")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # at INFO fontTools logs every glyph name
    try:
        subsetter.subset(font)
    finally:
        quiet.setLevel(level)
    _rename(font)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, font.save)


def _rename(font) -> None:
    """Give the subset a family of its own, so that asking for the system family finds the full font."""
    name = font["name"]
    for record in list(name.names):
        if record.nameID in (1, 3, 4, 6, 16, 17):
            name.removeNames(nameID=record.nameID)
    for name_id, value in ((1, FAMILY), (3, f"{POSTSCRIPT_NAME}-{RECIPE}"), (4, FAMILY), (6, POSTSCRIPT_NAME)):
        name.setName(value, name_id, 3, 1, 0x409)
        name.setName(value, name_id, 1, 0, 0)


def _remove_superseded(cache: Path, identity: str, extra: str, keep: Path) -> None:
    """Delete cached subsets the new one replaces: made from another font file or recipe, or for
    fewer characters. (A process still using one keeps its open copy; the next render finds `keep`.)"""
    have = set(extra)
    for font, ident, other in list(_entries(cache)):
        if font != keep and (ident != identity or set(other) <= have):
            for path in (font, font.with_suffix(".json")):
                with contextlib.suppress(OSError):  # another process may have removed or hold it
                    path.unlink()
