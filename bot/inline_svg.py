"""An SVG document from our chart renderer made fit to stand inside a dashboard page.

matplotlib writes a standalone file: an XML prolog and doctype, metadata, a ``<style>`` whose
``*`` rule would apply to the whole page, ids that repeat from one chart to the next (they hash
the content: two charts of one layout share clip paths' ids) and ``xlink:href``, which an HTML
parser does not read as a namespace. Here the document is parsed and written again: only SVG
elements stay, no style, script or foreign content, no event attribute and no reference outside
the chart; ids carry the chart's own prefix. Every text is escaped again as it is written, so a
flag, environment or check name is text whatever matplotlib made of it.
"""

from __future__ import annotations

import re
from xml.etree import ElementTree

__all__ = ["inline_svg"]

SVG = "http://www.w3.org/2000/svg"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_DROPPED = {f"{{{SVG}}}{name}" for name in ("metadata", "style", "script", "foreignObject")}
_REFERENCE = re.compile(r"url\(#([^)]+)\)")


def inline_svg(document: str, *, id_prefix: str, label: str) -> str:
    """``document`` as an ``<svg>`` element for a page: an image named ``label`` to screen readers,
    sized by the page (its viewBox kept), with its ids under ``id_prefix``."""
    root = ElementTree.fromstring(document)
    _drop_foreign(root)
    ids = {found for element in root.iter() if (found := element.get("id"))}
    for element in root.iter():
        _rewrite(element, id_prefix, ids)
    for size in ("width", "height"):
        root.attrib.pop(size, None)
    root.set("role", "img")
    root.set("aria-label", label)
    return ElementTree.tostring(root, encoding="unicode")


def _drop_foreign(parent: ElementTree.Element) -> None:
    """Remove every child not an SVG element, or one that styles, scripts or embeds."""
    for child in list(parent):
        if child.tag in _DROPPED or not str(child.tag).startswith(f"{{{SVG}}}"):
            parent.remove(child)
        else:
            _drop_foreign(child)


def _rewrite(element: ElementTree.Element, id_prefix: str, ids: set[str]) -> None:
    """The element by its plain name (in a page, ``<svg>`` is SVG without saying so), its ids
    under the prefix, ``href`` for ``xlink:href``, and no event handler or reference to anything
    outside the chart."""
    element.tag = str(element.tag).removeprefix(f"{{{SVG}}}")
    attributes = dict(element.attrib)
    element.attrib.clear()
    for name, value in attributes.items():
        if name == _XLINK_HREF:
            name = "href"
        if name.lower().startswith("on"):
            continue
        if name == "id":
            value = id_prefix + value
        elif name == "href":
            if not (value.startswith("#") and value[1:] in ids):
                continue
            value = "#" + id_prefix + value[1:]
        else:
            value = _REFERENCE.sub(lambda m: f"url(#{id_prefix}{m[1]})" if m[1] in ids else "none", value)
        element.set(name, value)
