"""One exception hierarchy, mapped once to HTTP problem+json (api) and once to CLI exit codes (cli).

Each class carries its HTTP status, its problem `type` slug and its CLI exit code.
"""

from __future__ import annotations


class EcobridgeError(Exception):
    status = 500
    type = "internal-error"
    title = "Internal error"
    exit_code = 1

    def __init__(self, detail: str, **extra):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def problem(self) -> dict:
        return {
            "type": f"https://ecobridge.invalid/problems/{self.type}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }


class InvalidInput(EcobridgeError):
    """Bad input: names the file, row and field where it can."""

    status = 422
    type = "invalid-input"
    title = "Invalid input"
    exit_code = 2

    def __init__(self, detail: str, *, file: str | None = None, row: int | None = None,
                 field: str | None = None, **extra):
        where = ", ".join(
            p for p in (file and f"file {file}", row is not None and f"row {row}",
                        field and f"field {field}") if p
        )
        super().__init__(f"{where}: {detail}" if where else detail, **extra)
        self.file, self.row, self.field = file, row, field


class BadRequest(EcobridgeError):
    status = 400
    type = "bad-request"
    title = "Bad request"
    exit_code = 2


class NotFound(EcobridgeError):
    status = 404
    type = "not-found"
    title = "Not found"
    exit_code = 3


class Unauthorized(EcobridgeError):
    status = 401
    type = "unauthorized"
    title = "Authentication required"
    exit_code = 4


class Forbidden(EcobridgeError):
    status = 403
    type = "forbidden"
    title = "Forbidden"
    exit_code = 4


class Conflict(EcobridgeError):
    status = 409
    type = "conflict"
    title = "Conflict"
    exit_code = 5


class TooManyRequests(EcobridgeError):
    status = 429
    type = "too-many-requests"
    title = "Too many requests"
    exit_code = 6


class StoreLocked(EcobridgeError):
    status = 503
    type = "store-locked"
    title = "Store locked"
    exit_code = 7
