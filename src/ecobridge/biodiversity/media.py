"""Who is handed the path (URL) of a camera-trap media file: the one rule for every
representation that serves `camtrap_media.file_path` (Camtrap DP media.csv, the Darwin Core
Archive multimedia extension).

Camtrap DP 1.0 (media-table-schema.json) defines
  filePublic: "`false` if the media file is not publicly accessible (e.g. to protect the
              privacy of people)."  required, boolean
  filePath:   "URL or relative path to the media file, respectively for externally hosted
              files or files that are part of the package."  required, pattern
              ^(?=^[^./~])(^((?!\\.{2}).)*$).*$  (and "", NA, NaN, nan are missing values)
The flag came with tdwg/camtrap-dp#293: the Agouti API "hides images containing humans.
Accessing the media filePath for those results in a 403 forbidden". The standard thus keeps
the path and leaves the refusal to the file's host. A sharing platform cannot count on that
(a path inside a package, or an unguarded URL, is the file itself), so a non-public file's
path goes only to readers with full access to its dataset: owner members, platform admins,
holders of a precise grant. The privacy of people in a picture does not depend on the
species, so this holds for datasets that are not sensitive too (`full_access_sql(...,
private=True)`).

Everyone else still gets the media row: observations point at it by mediaID (a foreign key
the profile checks) and its timestamp, type and fileName carry the sampling. filePath cannot
be left empty (required, and "" is a missing value), so it becomes WITHHELD_PATH: an absolute
URL, which the spec allows for externally hosted files, whose host is under ".invalid", the
top-level domain RFC 2606 reserves for names "sure to be invalid and which it is obvious at a
glance are invalid" (RFC 6761: lookups always fail). A reader who tries it fails at once; a
relative placeholder would instead name a file inside a package that does not hold it. It
matches the schema's pattern, so the package still validates. In a Darwin Core Archive the
multimedia row exists only for its accessURI and nothing points at it, so there it is left
out instead.
"""

from __future__ import annotations

from ecobridge.governance.policy import Principal, full_access_sql

WITHHELD_PATH = "https://withheld.invalid/"


def file_path_sql(principal: Principal, media: str = "m", dataset: str = "d"
                  ) -> tuple[str, list]:
    """SQL over `camtrap_media AS media` joined to `datasets AS dataset`: the file path as the
    principal may have it, NULL where it is withheld."""
    holder, params = full_access_sql(principal, dataset, private=True)
    return f"(CASE WHEN {media}.file_public OR {holder} THEN {media}.file_path END)", params


__all__ = ["WITHHELD_PATH", "file_path_sql"]
