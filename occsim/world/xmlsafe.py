"""Reading the XML of OpenDRIVE and OpenSCENARIO files with everything that can attack a reader switched off.

No DTD is loaded, no entity is expanded, nothing is fetched from the network, and a document that declares a DTD
(where XML bombs and external entities live) is refused outright: neither format needs one. Errors carry the
file and line, as scenario YAML errors do.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

MAX_XML_BYTES = 64 << 20  # [bytes] large city maps are tens of MB; scenarios are a few KB


class XmlError(ValueError):
    """An XML file cannot be read, or one of its elements is wrong; ``str()`` is ``file:line: message``."""

    def __init__(self, file: str | Path | None, line: int | None, message: str):
        self.file, self.line, self.message = (str(file) if file else None), line, message
        where = f"{self.file}:{line}" if self.file and line else (self.file or "")
        super().__init__(f"{where}: {message}" if where else message)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(data: bytes, source: str | Path) -> etree._Element:
    """The root element of the XML document ``data``; ``source`` names it in errors.

    Raises:
        XmlError: not well-formed, over ``MAX_XML_BYTES``, or it declares a DTD (entities, external references).
    """
    if len(data) > MAX_XML_BYTES:
        raise XmlError(source, None, f"{len(data):,} bytes is over the {MAX_XML_BYTES:,}-byte limit")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as e:
        raise XmlError(source, e.lineno, f"not well-formed XML: {e.msg}") from None
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise XmlError(
            source, 1, "a DOCTYPE declaration is refused: entity expansion and external entities are not allowed"
        )
    return root


def read_xml(path: str | Path) -> etree._Element:
    """``parse_xml`` of the file at ``path``, refusing an oversize file before reading it."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_XML_BYTES:
            raise XmlError(path, None, f"file of {size:,} bytes is over the {MAX_XML_BYTES:,}-byte limit")
        data = path.read_bytes()
    except OSError as e:
        raise XmlError(path, None, f"cannot read: {e.strerror or e}") from None
    return parse_xml(data, path)


def local_name(element: etree._Element) -> str:
    """The element's tag without a namespace."""
    return etree.QName(element).localname
