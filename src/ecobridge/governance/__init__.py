"""Who may see what: the Principal, the visibility predicate and coordinate generalisation.

Every read of data goes through `visible_datasets_sql` (which datasets this Principal may see) and
`location_sql` (which coordinates it may see). No endpoint writes its own rule.
"""

from ecobridge.governance.policy import (
    ANONYMOUS,
    SYSTEM,
    Principal,
    dataset_filter_sql,
    full_access_sql,
    location_sql,
    record_read,
    require_write,
    visible_datasets_sql,
)

__all__ = [
    "ANONYMOUS",
    "SYSTEM",
    "Principal",
    "dataset_filter_sql",
    "full_access_sql",
    "location_sql",
    "record_read",
    "require_write",
    "visible_datasets_sql",
]
