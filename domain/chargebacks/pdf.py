"""Evidence documents as PDF files, because no provider takes an HTML file as evidence:

* Stripe — uploads with purpose ``dispute_evidence`` are PDF, JPEG or PNG, at most 5 MB
  (https://docs.stripe.com/file-upload);
* Adyen — defense documents are JPG, TIFF or PDF, a PDF at most 2 MB
  (https://docs.adyen.com/risk-management/understanding-disputes/defense-requirements);
* PayPal — evidence files are .pdf, .jpg, .jpeg, .gif or .png
  (https://developer.paypal.com/api/customer-disputes/v1/disputes-provide-evidence).

The packet's documents are HTML (``templates/disputes/packet.html``), the words the case owner
reads. :func:`from_html` lays the same words out as a plain PDF 1.4 — Helvetica on US Letter pages,
headings in bold, each table row on one line with its cells between ``|`` — with the standard
library alone (no PDF library is part of the product). Characters outside Helvetica's WinAnsi
encoding print as ``?``. The same HTML gives the same bytes, so a document sent again is the same
document.
"""
from __future__ import annotations

import re
import textwrap
from html.parser import HTMLParser

PAGE_W, PAGE_H, MARGIN, LEADING = 612, 792, 54, 14
LINES_PER_PAGE = (PAGE_H - 2 * MARGIN) // LEADING
#: Characters per line: body text at 9.5 pt, headings at 11 pt bold (Helvetica's widths, with room).
WRAP = {False: 95, True: 75}
FONT = {False: b"/F1 9.5 Tf", True: b"/F2 11 Tf"}
BREAKS = {"h1", "h2", "h3", "p", "tr", "table", "div", "br", "li", "ul", "ol"}
HEADINGS = {"h1", "h2", "h3"}
HIDDEN = {"head", "title", "style", "script"}


class _Lines(HTMLParser):
    """The HTML's text as (line, bold) pairs, in reading order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[str, bool]] = []
        self.current, self.bold, self.hidden, self.cells = "", False, 0, 0

    def flush(self, keep_blank: bool = False) -> None:
        text = re.sub(r"[ \t\r\f\v]+", " ", self.current).strip()
        if text or keep_blank:
            self.lines.append((text, self.bold))
        self.current, self.cells = "", 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN:
            self.hidden += 1
        elif tag in BREAKS:
            self.flush()
            self.bold = tag in HEADINGS
        elif tag in ("td", "th"):
            self.current += " | " if self.cells else ""
            self.cells += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in BREAKS:
            self.flush()
            self.bold = False

    def handle_data(self, data: str) -> None:
        if self.hidden or not data.strip():
            return
        first, *rest = data.split("\n")
        self.current += first
        for part in rest:
            self.flush(keep_blank=True)
            self.current = part


def text_lines(html: str) -> list[tuple[str, bool]]:
    """The document's words, wrapped to the page width: (line, bold) pairs."""
    parser = _Lines()
    parser.feed(html)
    parser.close()
    parser.flush()
    wrapped: list[tuple[str, bool]] = []
    for line, bold in parser.lines:
        wrapped += [(part, bold) for part in textwrap.wrap(line, WRAP[bold]) or [""]]
    while wrapped and not wrapped[-1][0]:
        wrapped.pop()
    return wrapped


def _escaped(text: str) -> bytes:
    raw = text.encode("cp1252", "replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _page(lines: list[tuple[str, bool]]) -> bytes:
    ops, font = [b"BT", b"%d TL" % LEADING, b"%d %d Td" % (MARGIN, PAGE_H - MARGIN)], b""
    for text, bold in lines:
        if FONT[bold] != font:
            font = FONT[bold]
            ops.append(font)
        ops.append(b"(" + _escaped(text) + b") Tj T*")
    return b"\n".join([*ops, b"ET"])


def from_lines(lines: list[tuple[str, bool]]) -> bytes:
    """A PDF of the lines, ``LINES_PER_PAGE`` to a page."""
    pages = [lines[i:i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)] or [[]]
    kids = [5 + 2 * i for i in range(len(pages))]
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(pages)),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"]
    for kid, page in zip(kids, pages):
        stream = _page(page)
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R "
                       b"/F2 4 0 R >> >> /Contents %d 0 R >>" % (PAGE_W, PAGE_H, kid + 1))
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def from_html(html: str) -> bytes:
    """The evidence document (HTML) as a PDF with the same words."""
    return from_lines(text_lines(html))
