"""(placeholder: owned by the helper building this interface)"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
