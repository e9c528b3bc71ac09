"""meta.xml of the Darwin Core Archives the tests build, from lists of terms.

    meta_xml((EVENT, "event.csv", [DWC + "eventID", DWC + "eventDate"]),
             (OCCURRENCE, "occurrence.csv", [DWC + "occurrenceID",
                                             (DWC + "basisOfRecord", "HumanObservation")]))

A field is a term read from the next column (a core's from column 0, where its id is; an
extension's from column 1, after the core id in column 0), or (term, default) for a constant
that has no column.
"""

from __future__ import annotations

DWC = "http://rs.tdwg.org/dwc/terms/"
# spelled out: python-dwca-reader's defaults (tab, no quotes) are not the XSD's
LAYOUT = ('ignoreHeaderLines="1" fieldsTerminatedBy="," fieldsEnclosedBy="&quot;"'
          ' linesTerminatedBy="\\n" encoding="UTF-8"')

File = tuple[str, str, list]  # (rowType, file name, fields)


def file_xml(tag: str, spec: File, layout: str = LAYOUT) -> str:
    """One <core> or <extension> element."""
    row_type, location, fields = spec
    first, key = (0, '<id index="0"/>') if tag == "core" else (1, '<coreid index="0"/>')
    lines = [f'  <{tag} rowType="{row_type}" {layout}>',
             f"    <files><location>{location}</location></files>{key}"]
    index = first
    for field in fields:
        if isinstance(field, tuple):
            lines.append(f'    <field term="{field[0]}" default="{field[1]}"/>')
        else:
            lines.append(f'    <field index="{index}" term="{field}"/>')
            index += 1
    return "\n".join([*lines, f"  </{tag}>"])


def meta_xml(core: File, *extensions: File, layout: str = LAYOUT,
             metadata: str | None = "eml.xml") -> str:
    """The whole meta.xml: its core, its extensions, the metadata file it names (None: none)."""
    names = f' metadata="{metadata}"' if metadata else ""
    parts = [f'<archive xmlns="http://rs.tdwg.org/dwc/text/"{names}>',
             file_xml("core", core, layout),
             *(file_xml("extension", e, layout) for e in extensions), "</archive>"]
    return "\n".join(parts)
