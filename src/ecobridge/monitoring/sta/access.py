"""The governance predicate for SensorThings queries, built in one place from the Principal."""

from __future__ import annotations

from functools import partial

from ecobridge.governance.policy import Principal, dataset_filter_sql, location_sql
from ecobridge.store.sta_sql import Visibility


def visibility(principal: Principal) -> Visibility:
    """What `principal` may see: datasets by the access policy, sensitive points generalised."""
    return Visibility(things=dataset_filter_sql(principal), locate=partial(location_sql, principal))
