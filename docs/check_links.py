#!/usr/bin/env python3
"""Checks the links of a built mdBook: every relative link in a page's content
(`<main>`) must name a file of the book, and every `#anchor` an element id in
that file. Links out of the book (http:, https:, mailto:) are not fetched: CI
has no network but the package registries.

    python3 docs/check_links.py docs/book
"""

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class Page(HTMLParser):
    """The ids of a page, and the links inside its <main> element."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids = set()
        self.links = []
        self._main_depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and "name" in attrs:
            self.ids.add(attrs["name"])
        if tag == "main":
            self._main_depth += 1
        if self._main_depth:
            for name in ("href", "src"):
                if attrs.get(name):
                    self.links.append((tag, attrs[name], self.getpos()[0]))

    def handle_endtag(self, tag):
        if tag == "main" and self._main_depth:
            self._main_depth -= 1


def parse(path):
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def main(root):
    root = Path(root).resolve()
    pages = {p: parse(p) for p in root.rglob("*.html")}
    if not pages:
        print(f"check_links: no HTML under {root}", file=sys.stderr)
        return 1
    broken = []
    checked = 0
    for path, page in sorted(pages.items()):
        for tag, link, line in page.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith("//"):
                continue  # out of the book: not fetched
            checked += 1
            where = f"{path.relative_to(root)}:{line}: {link}"
            target = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if root not in target.parents and target != root:
                broken.append(f"{where}: leads out of the book")
                continue
            if not target.exists():
                broken.append(f"{where}: no such file {target.relative_to(root)}")
                continue
            if parts.fragment:
                anchors = pages.get(target)
                if anchors is None:
                    continue  # not a page (an image, a file): no ids to check
                if unquote(parts.fragment) not in anchors.ids:
                    broken.append(f"{where}: no #{parts.fragment} in {target.relative_to(root)}")
    for line in broken:
        print(f"broken link: {line}", file=sys.stderr)
    print(f"check_links: {checked} links in {len(pages)} pages, {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "book"))
