"""Air quality: limit values as data (standards), AQI calculators (aqi) and completeness-aware
averaging (averaging). Pure functions; nothing here touches the store."""

from ecobridge.air.aqi import (
    AqiResult,
    Category,
    SubIndex,
    aqi,
    completeness,
    iaqi,
    iaqi_array,
    standard_for,
    sub_index,
)
from ecobridge.air.standards import (
    Limit,
    exceedances,
    limit_for,
    limits,
    who_attainment,
    who_guideline,
)

__all__ = [
    "AqiResult", "Category", "Limit", "SubIndex", "aqi", "completeness", "exceedances", "iaqi",
    "iaqi_array", "limit_for", "limits", "standard_for", "sub_index", "who_attainment",
    "who_guideline",
]
