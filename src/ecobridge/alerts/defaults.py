"""Default rules for air quality, and the demo's subscriptions.

The demo installs these before it ingests its air networks, so the demo's pollution episodes
raise alerts through the same path as any data provider's ingest.
"""

from __future__ import annotations

from ecobridge.alerts import service
from ecobridge.governance.policy import SYSTEM

DEFAULT_RULES: tuple[dict, ...] = (
    {"name": "PM2.5 24-h mean above the national limit", "kind": "threshold",
     "observed_property": "pm25", "severity": "moderate",
     "params": {"averaging": "24h", "limit": "national", "escalate": [[2, "severe"],
                                                                      [4, "extreme"]]},
     "description": "Trailing 24-h mean (18 of 24 hours valid) above the limit of the "
                    "station's own country, on the observation's date"},
    {"name": "PM2.5 24-h mean above the WHO guideline", "kind": "threshold",
     "observed_property": "pm25", "severity": "info",
     "params": {"averaging": "24h", "limit": "who", "level": "AQG", "clear_hours": 24},
     "description": "WHO 2021 air quality guideline level, 15 ug/m3 (24-h)"},
    {"name": "AQI unhealthy or worse", "kind": "aqi", "severity": "moderate",
     "params": {"standard": "national", "fallback": "USA", "min_category": "unhealthy",
                "escalate": [[5, "severe"], [6, "extreme"]]},
     "description": "A pollutant's sub-index in category 4 or above (US Unhealthy, China "
                    "moderately polluted, India poor); national AQI where the country has one"},
    {"name": "Station silent for 6 hours", "kind": "silence", "severity": "minor",
     "observed_property": "pm25", "params": {"hours": 6},
     "description": "An air-quality station (one that reports PM2.5) without PM2.5 data"},
    {"name": "Burst of QC flags", "kind": "qc_burst", "severity": "minor",
     "params": {"hours": 6, "count": 3}, "description": "3 or more suspect or failed values "
                                                          "within 6 hours"},
)

# Central Asia, roughly: from the Caspian to the Tian Shan and the Altai
CENTRAL_ASIA = {"type": "Polygon", "coordinates": [[[46.0, 35.0], [88.0, 35.0], [88.0, 56.0],
                                                    [46.0, 56.0], [46.0, 35.0]]]}


def install_defaults(store) -> list[dict]:
    """Add the default rules that are not there yet (by name)."""
    have = {r["name"] for r in service.list_rules(store, SYSTEM)}
    return [service.create_rule(store, SYSTEM, **rule) for rule in DEFAULT_RULES
            if rule["name"] not in have]


def install_demo_subscriptions(store) -> list[dict]:
    """A webhook-less subscription (read with /api/v1/alerts?subscription=ID or the stream)
    for the Central Asian glacier centre's analyst."""
    from ecobridge.governance.accounts import principal_for

    principal = principal_for(store, "demo-glacier-centre.analyst")
    return [service.create_subscription(store, principal, name="Central Asia air quality",
                                        area=CENTRAL_ASIA, min_severity="moderate")]
