"""Reading a Darwin Core Archive: meta.xml with the XSD defaults, and its data files as columns.

python-dwca-reader falls back to tab and no quoting when meta.xml leaves an attribute out; the
TDWG text guide's XSD (tdwg_dwc_text.xsd) says comma, '"', "\\n", UTF-8, no header lines, so
this reader applies those. An archive is a zip or a folder; without meta.xml a single data file
whose header row names Darwin Core terms is read as "simple Darwin Core".

Nothing here touches the store: `read_archive` returns the parsed files and the warnings (a
missing metadata file, an unknown row type) for dwca.py to import.
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from ecobridge.errors import InvalidInput
from ecobridge.monitoring.reasons import Reason, reason

DWC_TEXT = "{http://rs.tdwg.org/dwc/text/}"
DWC = "http://rs.tdwg.org/dwc/terms/"
OCCURRENCE = DWC + "Occurrence"
TAXON = DWC + "Taxon"
EVENT = DWC + "Event"
SIMPLE = DWC + "SimpleDarwinRecord"
# what a damaged or unusual zip raises (encrypted entries raise RuntimeError)
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, RuntimeError)
# Data files are read whole; a bigger archive belongs on the columnar ingest path.
MAX_FILE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class Field:
    term: str                 # full IRI
    index: int | None
    default: str | None = None
    delimited_by: str | None = None

    @property
    def name(self) -> str:
        return local_name(self.term)


@dataclass
class FileSpec:
    """One <core> or <extension>: its files, layout and fields, XSD defaults applied."""

    row_type: str
    locations: list[str]
    fields: list[Field]
    id_index: int | None = None
    encoding: str = "UTF-8"
    fields_terminated_by: str = ","
    lines_terminated_by: str = "\n"
    fields_enclosed_by: str = '"'
    ignore_header_lines: int = 0
    is_core: bool = False

    @property
    def name(self) -> str:
        return local_name(self.row_type)


@dataclass
class DataFile:
    """A file's rows as columns of strings (None for empty), keyed by term IRI; `ids` is the
    <id>/<coreid> column and `rows` the 1-based data row of each record."""

    spec: FileSpec
    location: str
    columns: dict[str, list[str | None]]
    ids: list[str | None]
    rows: list[int]
    short: list[tuple[int, int]] = field(default_factory=list)  # (row, fields found)

    @property
    def count(self) -> int:
        return len(self.rows) + len(self.short)


@dataclass
class Archive:
    name: str
    core: DataFile
    extensions: list[DataFile]
    metadata: bytes | None
    notes: list[Reason]  # the warnings, as codes (monitoring/reasons.py)

    @property
    def warnings(self) -> list[str]:
        return [note.text for note in self.notes]


def local_name(term: str) -> str:
    return term.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1].rsplit(":", 1)[-1]


def _unescape(value: str) -> str:
    r"""meta.xml writes "\t" and "\n" as backslash sequences."""
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}.get(value[i + 1],
                                                                      value[i:i + 2]))
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _int(value: str | None, what: str, name: str) -> int | None:
    if value is None or value.strip() == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{what} must be a whole number, not {value!r}",
                           file=name) from None


def parse_meta(xml: bytes, name: str = "meta.xml") -> tuple[str | None, list[FileSpec]]:
    """(metadata file name, [core, *extensions]) from meta.xml."""
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise InvalidInput(f"meta.xml is not well-formed XML: {exc}", file=name) from None
    if root.tag != f"{DWC_TEXT}archive":
        raise InvalidInput("meta.xml: the root element is not dwc text <archive>", file=name)
    specs = []
    for element in root:
        kind = element.tag.removeprefix(DWC_TEXT)
        if kind not in ("core", "extension"):
            continue
        a = element.attrib
        fields = []
        for f in element.findall(f"{DWC_TEXT}field"):
            if not f.get("term"):
                raise InvalidInput("meta.xml: a <field> has no term", file=name)
            fields.append(Field(term=f.get("term"), index=_int(f.get("index"), "index", name),
                                default=f.get("default"),
                                delimited_by=f.get("delimitedBy")))
        id_tag = "id" if kind == "core" else "coreid"
        id_element = element.find(f"{DWC_TEXT}{id_tag}")
        locations = [loc.text.strip() for loc in element.findall(
            f"{DWC_TEXT}files/{DWC_TEXT}location") if loc.text and loc.text.strip()]
        if not locations:
            raise InvalidInput(f"meta.xml: a <{kind}> lists no file", file=name)
        specs.append(FileSpec(
            row_type=a.get("rowType", SIMPLE), locations=locations, fields=fields,
            id_index=(_int(id_element.get("index"), "index", name)
                      if id_element is not None else None),
            encoding=a.get("encoding", "UTF-8"),
            fields_terminated_by=_unescape(a.get("fieldsTerminatedBy", ",")),
            lines_terminated_by=_unescape(a.get("linesTerminatedBy", "\\n")),
            fields_enclosed_by=_unescape(a.get("fieldsEnclosedBy", '"')),
            ignore_header_lines=_int(a.get("ignoreHeaderLines"), "ignoreHeaderLines",
                                     name) or 0,
            is_core=kind == "core"))
    cores = [s for s in specs if s.is_core]
    if len(cores) != 1:
        raise InvalidInput(f"meta.xml must hold one <core>, not {len(cores)}", file=name)
    return root.get("metadata"), cores + [s for s in specs if not s.is_core]


def _records(text: str, spec: FileSpec, location: str) -> list[list[str]]:
    delimiter, quote = spec.fields_terminated_by, spec.fields_enclosed_by
    if len(delimiter) != 1 or len(quote) > 1:
        raise InvalidInput("only one-character field separators and quotes are supported",
                           file=location)
    lines = (io.StringIO(text, newline="") if spec.lines_terminated_by in ("\n", "\r\n", "\r")
             else text.split(spec.lines_terminated_by))
    options = ({"quotechar": quote, "doublequote": True} if quote
               else {"quoting": csv.QUOTE_NONE})
    try:
        records = [r for r in csv.reader(lines, delimiter=delimiter, strict=False, **options)
                   if r and r != [""]]
    except csv.Error as exc:
        raise InvalidInput(f"unreadable delimited text: {exc}", file=location) from None
    return records[spec.ignore_header_lines:]


def read_file(spec: FileSpec, location: str, data: bytes) -> DataFile:
    """The file's records as columns; a record too short for the indexes meta.xml maps is kept
    aside in `short` (the importer rejects it with its row)."""
    encoding = spec.encoding.lower()
    try:
        text = data.decode("utf-8-sig" if encoding in ("utf-8", "utf8") else encoding)
    except (LookupError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot decode as {spec.encoding}: {exc}", file=location) from None
    records = _records(text, spec, location)
    indexed = [f.index for f in spec.fields if f.index is not None]
    if spec.id_index is not None:
        indexed.append(spec.id_index)
    need = max(indexed, default=-1) + 1
    columns: dict[str, list[str | None]] = {f.term: [] for f in spec.fields}
    ids: list[str | None] = []
    rows: list[int] = []
    short: list[tuple[int, int]] = []
    for number, record in enumerate(records, start=1):
        if len(record) < need:
            short.append((number, len(record)))
            continue
        rows.append(number)
        ids.append(_cell(record, spec.id_index, None))
        for f in spec.fields:
            columns[f.term].append(_cell(record, f.index, f.default))
    return DataFile(spec=spec, location=location, columns=columns, ids=ids, rows=rows,
                    short=short)


def _cell(record: list[str], index: int | None, default: str | None) -> str | None:
    value = record[index].strip() if index is not None else ""
    return value if value else (default if default not in (None, "") else None)


class _Source:
    """The files of a zip or a folder, by their path inside it."""

    def __init__(self, path: Path):
        self.path = path
        if path.is_dir():
            self.names = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
            self._zip = None
        elif zipfile.is_zipfile(path):
            try:
                self._zip = zipfile.ZipFile(path)
            except ZIP_ERRORS as exc:
                raise InvalidInput(f"unreadable zip: {exc}", file=path.name) from None
            self.names = [i.filename for i in self._zip.infolist() if not i.is_dir()]
        else:
            raise InvalidInput("a Darwin Core Archive is a zip file or a folder", file=path.name)
        # Archives zipped with their folder put every file under one top directory.
        tops = {n.split("/", 1)[0] for n in self.names}
        self.prefix = (tops.pop() + "/" if len(tops) == 1 and all("/" in n for n in self.names)
                       else "")

    def has(self, name: str) -> bool:
        return self.prefix + name in self.names

    def files(self) -> list[str]:
        return [n.removeprefix(self.prefix) for n in self.names]

    def read(self, name: str) -> bytes:
        if not self.has(name):
            raise InvalidInput(f"meta.xml names {name!r}, which the archive does not hold",
                               file=self.path.name)
        full = self.prefix + name
        if self._zip is not None:
            if self._zip.getinfo(full).file_size > MAX_FILE_BYTES:
                raise InvalidInput("file too large for the archive reader", file=name)
            try:
                return self._zip.read(full)
            except ZIP_ERRORS as exc:
                raise InvalidInput(f"unreadable zip entry: {exc}", file=name) from None
        return (self.path / full).read_bytes()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def read_archive(path: str | Path) -> Archive:
    """Parse meta.xml and every data file of the archive."""
    path = Path(path)
    if not path.exists():
        raise InvalidInput("no such file or folder", file=str(path))
    source = _Source(path)
    try:
        warnings: list[Reason] = []
        if source.has("meta.xml"):
            metadata_name, specs = parse_meta(source.read("meta.xml"))
        else:
            metadata_name, specs = _simple(source, warnings)
        metadata = None
        if metadata_name and source.has(metadata_name):
            metadata = source.read(metadata_name)
        elif metadata_name:
            found = [n for n in source.files() if n.lower() in ("eml.xml", "metadata.xml")]
            warnings.append(
                reason("dwca-metadata-instead", meta="meta.xml", file=metadata_name,
                       found=found[0]) if found
                else reason("dwca-metadata-missing", meta="meta.xml", file=metadata_name))
            metadata = source.read(found[0]) if found else None
        else:
            warnings.append(reason("dwca-no-metadata", eml="EML"))
        files = [read_file(spec, loc, source.read(loc)) for spec in specs
                 for loc in spec.locations]
    finally:
        source.close()
    core = [f for f in files if f.spec.is_core]
    if len(core) > 1:  # several core files with one layout: one table
        for extra in core[1:]:
            _append(core[0], extra)
    return Archive(name=path.name, core=core[0], notes=warnings, metadata=metadata,
                   extensions=[f for f in files if not f.spec.is_core])


def _append(into: DataFile, extra: DataFile) -> None:
    offset = into.rows[-1] if into.rows else 0
    for term, values in extra.columns.items():
        into.columns[term] += values
    into.ids += extra.ids
    into.rows += [r + offset for r in extra.rows]
    into.short += [(r + offset, n) for r, n in extra.short]


def _simple(source: _Source, warnings: list[Reason]) -> tuple[None, list[FileSpec]]:
    """No meta.xml: one CSV or tab-separated file whose header row holds Darwin Core terms."""
    data = [n for n in source.files() if n.lower().endswith((".csv", ".txt", ".tsv"))]
    if len(data) != 1:
        raise InvalidInput("the archive has no meta.xml and not exactly one data file",
                           file=source.path.name)
    head = source.read(data[0]).decode("utf-8-sig", errors="replace").splitlines()[0]
    delimiter = "\t" if "\t" in head else ","
    names = next(csv.reader([head], delimiter=delimiter))
    warnings.append(reason("dwca-simple", meta="meta.xml", file=data[0]))
    fields = [Field(term=n if ":" in n and "/" in n else DWC + n.strip(), index=i)
              for i, n in enumerate(names) if n.strip()]
    return None, [FileSpec(row_type=OCCURRENCE, locations=data, fields=fields,
                           fields_terminated_by=delimiter, ignore_header_lines=1, is_core=True)]
