"""(placeholder: owned by the helper building Darwin Core Archive and Camtrap DP exchange)"""

from __future__ import annotations
