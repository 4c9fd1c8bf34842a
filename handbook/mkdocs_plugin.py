"""MkDocs plugin: a thin adapter from `handbook.site` to MkDocs.

It loads the source, stops the build with the `file:line` problems when there are any, adds the
generated pages as files, sets the navigation, and tells `mkdocs serve` to watch the source folders.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mkdocs.config import config_options as c
from mkdocs.config.base import Config
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files

from .load import load_handbook
from .model import Handbook
from .site import build_nav, build_pages
from .site_downloads import book_downloads, form_downloads

log = logging.getLogger("mkdocs.plugins.handbook")


class HandbookConfig(Config):
    enabled = c.Type(bool, default=True)
    root = c.Type(str, default=".")  # project root, relative to mkdocs.yml
    pdf = c.Type(bool, default=True)  # render the printable forms (cached: only changed forms are re-rendered)
    # the printed handbook, whole and per role (cached by its HTML); not under `mkdocs serve`, where an
    # edit of any regulation would re-render every book (tens of seconds) before the page reloads
    book = c.Type(bool, default=True)


class HandbookPlugin(BasePlugin[HandbookConfig]):
    def __init__(self) -> None:
        self.handbook: Handbook | None = None
        self.pages: dict[str, str] = {}
        self.downloads: dict[str, bytes] = {}
        self.serving = False

    def on_startup(self, *, command, dirty) -> None:
        self.serving = command == "serve"

    def _root(self, config) -> Path:
        return (Path(config.config_file_path).parent / self.config.root).resolve()

    def on_config(self, config):
        if not self.config.enabled:
            return config
        root = self._root(config)
        hb, problems = load_handbook(root)
        if problems:
            listing = "\n".join(str(p) for p in problems)
            raise PluginError(f"制度源文件有 {len(problems)} 个问题:\n{listing}")
        self.handbook = hb
        cache = root / ".cache" / "pdf"
        forms = form_downloads(hb, cache) if self.config.pdf else {}
        books = book_downloads(hb, cache) if self.config.pdf and self.config.book and not self.serving else {}
        self.downloads = {**forms, **books}
        self.pages = build_pages(hb, downloads=bool(forms), books=bool(books))
        config.nav = build_nav(hb)
        return config

    def on_files(self, files: Files, *, config) -> Files:
        if not self.config.enabled:
            return files
        for path, content in {**self.pages, **self.downloads}.items():
            files.append(File.generated(config, path, content=content))
        return files

    def on_serve(self, server, *, config, builder):
        root = self._root(config)
        for folder in ("regulations", "checklists"):
            if (root / folder).is_dir():
                server.watch(str(root / folder))
        return server
