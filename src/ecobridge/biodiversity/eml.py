"""EML 2.2 metadata for a Darwin Core Archive export, from the dataset's catalogue record.

Title (in every language the catalogue holds), the owning organisation as creator, metadata
provider and contact, the SPDX licence as intellectual rights, and, when the export carries
generalised coordinates, a note saying so (GBIF shows additionalInfo and methods).
"""

from __future__ import annotations

from datetime import datetime
from xml.etree import ElementTree as ET

from ecobridge.languages import localise

EML_NS = "https://eml.ecoinformatics.org/eml-2.2.0"
LICENCE_URLS = {
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/legalcode",
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/legalcode",
    "CC-BY-NC-4.0": "https://creativecommons.org/licenses/by-nc/4.0/legalcode",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/legalcode",
}


def generalisation_note(km: float) -> str:
    return (f"coordinates generalised to the centre of a {km:g} km grid cell (sensitive "
            "species); precise positions only for the data owner and partners granted "
            "precise access")


def _texts(value) -> dict[str, str]:
    import json

    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {"en": value}
    return {k: v for k, v in (value or {}).items() if v}


def eml_document(ds: dict, *, generalised: bool, count: int, created: datetime) -> bytes:
    ET.register_namespace("eml", EML_NS)
    root = ET.Element(f"{{{EML_NS}}}eml", {
        "packageId": f"ecobridge:{ds['slug']}:{created.strftime('%Y%m%dT%H%M%SZ')}",
        "system": "ecobridge", "{http://www.w3.org/XML/1998/namespace}lang": "en"})
    dataset = ET.SubElement(root, "dataset")
    ET.SubElement(dataset, "alternateIdentifier").text = ds["slug"]
    titles = _texts(ds["title"])
    ET.SubElement(dataset, "title", {"{http://www.w3.org/XML/1998/namespace}lang": "en"}
                  ).text = localise(ds["title"], "en")
    for lang, text in titles.items():
        if lang != "en":
            ET.SubElement(dataset, "title",
                          {"{http://www.w3.org/XML/1998/namespace}lang": lang}).text = text
    owner = localise(ds["owner_name"], "en")
    for role in ("creator", "metadataProvider"):
        ET.SubElement(ET.SubElement(dataset, role), "organizationName").text = owner
    ET.SubElement(dataset, "pubDate").text = created.date().isoformat()
    ET.SubElement(dataset, "language").text = "en"
    abstract = ET.SubElement(dataset, "abstract")
    ET.SubElement(abstract, "para").text = (localise(ds.get("description"), "en")
                                            or localise(ds["title"], "en"))
    if ds.get("keywords"):
        keywords = ET.SubElement(dataset, "keywordSet")
        for word in ds["keywords"]:
            ET.SubElement(keywords, "keyword").text = word
    note = generalisation_note(ds["generalise_km"]) if generalised else None
    if note:
        ET.SubElement(ET.SubElement(dataset, "additionalInfo"), "para").text = note
    rights = ET.SubElement(dataset, "intellectualRights")
    para = ET.SubElement(rights, "para")
    licence = ds["licence"]
    para.text = f"This work is licensed under {licence}"
    if licence in LICENCE_URLS:
        para.text += f" ({LICENCE_URLS[licence]})"
    para.text += "." + (f" Attribution: {ds['attribution']}" if ds.get("attribution") else "")
    contact = ET.SubElement(dataset, "contact")
    ET.SubElement(contact, "organizationName").text = owner
    if note:  # EML puts methods after the contact
        step = ET.SubElement(ET.SubElement(ET.SubElement(dataset, "methods"), "methodStep"),
                             "description")
        ET.SubElement(step, "para").text = note
    meta = ET.SubElement(root, "additionalMetadata")
    info = ET.SubElement(ET.SubElement(meta, "metadata"), "ecobridge")
    ET.SubElement(info, "note").text = (f"{count} occurrence records exported by ecobridge"
                                        f" from dataset {ds['slug']}.")
    if note:
        ET.SubElement(info, "dataGeneralizations").text = note
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)
