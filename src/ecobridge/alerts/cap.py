"""CAP 1.2 (OASIS Common Alerting Protocol) messages and an Atom feed of them.

One alert is one CAP <alert>: its identifier carries the alert's version, so each change is a
new message; a later version is msgType Update and references the first; a retracted alert is a
Cancel. Elements follow the order of the CAP 1.2 schema (OASIS CAP-v1.2.xsd). The area is a
circle around the station's position as the reader may see it: for a sensitive dataset the
generalised grid-cell centre with a radius covering the cell.
"""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from ecobridge.alerts.models import CAP_SEVERITY

NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM = "http://www.w3.org/2005/Atom"
SENDER = "ecobridge@ecobridge.invalid"
ET.register_namespace("", NS)


def cap_time(value: str | datetime | None) -> str:
    """CAP dateTime: no fractional seconds and an explicit offset ('Z' is not allowed)."""
    if value is None:
        value = datetime.now(UTC)
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def identifier(alert: dict, version: int | None = None) -> str:
    return f"urn:ecobridge:alert:{alert['id']}:v{version or alert['version']}"


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{NS}}}{tag}")
    if text is not None:
        el.text = text
    return el


def _msg_type(alert: dict) -> str:
    if alert["resolution"] == "retracted":
        return "Cancel"
    return "Alert" if alert["version"] == 1 else "Update"


def _area(alert: dict) -> tuple[str, str] | None:
    loc = alert.get("location")
    if not loc or loc.get("type") != "Point":
        return None
    lon, lat = loc["coordinates"][:2]
    # a generalised point stands for a grid cell: a radius reaching the cell's corners
    cell = alert.get("location_cell_km") or 10.0
    radius = 0.71 * cell if alert["location_generalised"] else 0.0
    return f"{lat:.5f},{lon:.5f} {radius:.1f}", f"{alert['station']['name']}"


def alert_element(alert: dict, base_url: str) -> ET.Element:
    root = ET.Element(f"{{{NS}}}alert")
    _sub(root, "identifier", identifier(alert))
    _sub(root, "sender", SENDER)
    _sub(root, "sent", cap_time(alert["updated_at"]))
    _sub(root, "status", "Exercise" if alert.get("demo") else "Actual")
    msg = _msg_type(alert)
    _sub(root, "msgType", msg)
    _sub(root, "source", f"ecobridge rule {alert['rule']['name']}")
    _sub(root, "scope", "Public")
    if alert.get("note"):
        _sub(root, "note", alert["note"])
    if msg != "Alert":
        _sub(root, "references", f"{SENDER},{identifier(alert, 1)},{cap_time(alert['created_at'])}")
    if alert.get("incident_id"):
        _sub(root, "incidents", f"ecobridge-incident-{alert['incident_id']}")
    info = _sub(root, "info")
    _sub(info, "language", "en")
    _sub(info, "category", "Env")
    _sub(info, "event", alert["rule"]["name"])
    _sub(info, "responseType", "Monitor" if alert["status"] != "resolved" else "None")
    _sub(info, "urgency", "Past" if alert["status"] == "resolved" else "Immediate")
    _sub(info, "severity", CAP_SEVERITY[alert["severity"]])
    _sub(info, "certainty", "Observed")
    _sub(info, "eventCode")
    code = info[-1]
    _sub(code, "valueName", "ecobridge:rule-kind")
    _sub(code, "value", alert["rule"]["kind"])
    _sub(info, "onset", cap_time(alert["started_at"]))
    _sub(info, "senderName", "ecobridge")
    _sub(info, "headline", alert["headline"][:160])
    _sub(info, "description", _description(alert))
    _sub(info, "web", f"{base_url}/api/v1/alerts/{alert['id']}")
    for name, value in (("dataset", alert["dataset"]), ("station", alert["station"]["code"]),
                        ("observed_property", alert["observed_property"]),
                        ("peak_value", alert["peak_value"]), ("threshold", alert["threshold"]),
                        ("unit", alert["unit"]), ("status", alert["status"])):
        if value is not None:
            p = _sub(info, "parameter")
            _sub(p, "valueName", name)
            _sub(p, "value", str(value))
    area = _area(alert)
    a = _sub(info, "area")
    _sub(a, "areaDesc", area[1] if area else alert["station"]["name"])
    if area:
        _sub(a, "circle", area[0])
    return root


def _description(alert: dict) -> str:
    d = alert.get("detail") or {}
    parts = [alert["headline"] + "."]
    if d.get("standard"):
        parts.append(f"Limit: {d['standard']} ({d.get('level')}), {alert['threshold']:g} "
                     f"{alert['unit']}.")
    parts.append(f"From {alert['started_at']} to {alert['ended_at'] or alert['last_seen_at']}"
                 f" ({alert['points']} evaluations).")
    if alert["location_generalised"]:
        parts.append("The position is generalised: the data are sensitive.")
    return " ".join(parts)


def message(alert: dict, base_url: str) -> bytes:
    return ET.tostring(alert_element(alert, base_url), encoding="utf-8", xml_declaration=True)


def feed(alerts: list[dict], base_url: str) -> bytes:
    """An Atom feed whose entries each hold one CAP message."""
    ET.register_namespace("atom", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(root, f"{{{ATOM}}}id").text = f"{base_url}/api/v1/alerts.cap"
    ET.SubElement(root, f"{{{ATOM}}}title").text = "ecobridge alerts (CAP 1.2)"
    ET.SubElement(root, f"{{{ATOM}}}updated").text = cap_time(
        max((a["updated_at"] for a in alerts), default=None))
    author = ET.SubElement(root, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = "ecobridge"
    for alert in alerts:
        entry = ET.SubElement(root, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}id").text = identifier(alert)
        ET.SubElement(entry, f"{{{ATOM}}}title").text = alert["headline"]
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = cap_time(alert["updated_at"])
        ET.SubElement(entry, f"{{{ATOM}}}link", href=f"{base_url}/api/v1/alerts/{alert['id']}/cap",
                      type="application/cap+xml")
        content = ET.SubElement(entry, f"{{{ATOM}}}content", type="application/cap+xml")
        content.append(alert_element(alert, base_url))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
