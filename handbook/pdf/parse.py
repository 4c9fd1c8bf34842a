"""Our own print HTML, parsed by expat (C) into the tree WeasyPrint's HTML5 parser would build.

WeasyPrint parses every page with tinyhtml5, an HTML5 parser written in Python: about a tenth of a
form's render time. The print templates write markup that is also well-formed XML (void elements
closed, every table row inside a row group, user text escaped by autoescape), so expat reads it into
the same ElementTree. A page expat refuses (user text with a control character, say) returns None and
the caller parses it as HTML5, as before. tests/test_pdf.py checks that both parsers give the same tree
for every form, blank and filled, and for the daily pack.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET


def parse_print_html(html: str) -> ET.Element | None:
    """The page's <html> element, or None when the page is not well-formed XML."""
    try:
        root = ET.fromstring(html)
    except ET.ParseError:
        return None
    if root.tag != "html" or len(root) != 2 or root[0].tag != "head" or root[1].tag != "body":
        return None  # not a page of ours: let the HTML5 parser build what it builds
    body = root[1]
    # The two places where HTML5 tree building moves whitespace that XML keeps where it stands: before
    # <head> it is dropped, after </body> it goes to the end of the body.
    root.text = None
    if body.tail:
        if len(body):
            body[-1].tail = (body[-1].tail or "") + body.tail
        else:
            body.text = (body.text or "") + body.tail
        body.tail = None
    return root
