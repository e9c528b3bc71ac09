"""HTTP router for biodiversity exchange: Darwin Core Archive and Camtrap DP downloads of a
dataset, and their uploads.

Downloads go through the exporters, which read under the access policy (a hidden dataset is a
404, a sensitive one seen without full access is generalised) and write the read audit.
Uploads are for the dataset's publishers (require_write in the importers) and run in the
request: archives and packages are small next to observation files.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response

from ecobridge.api.deps import PrincipalDep, StoreDep, UserDep
from ecobridge.api.params import DatasetPathDep
from ecobridge.biodiversity.camtrap import export_camtrap_dp, import_camtrap_dp
from ecobridge.biodiversity.dwca import export_dwca, import_dwca
from ecobridge.errors import InvalidInput

router = APIRouter(prefix="/api/v1", tags=["biodiversity"])

ZIP = {200: {"content": {"application/zip": {}}, "description": "a zip file"}}


def _zip(data: bytes, ref: str | int, suffix: str) -> Response:
    return Response(data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{ref}-{suffix}.zip"'})


@router.get("/datasets/{ref}/dwca", response_class=Response, responses=ZIP)
def dwca_download(store: StoreDep, principal: PrincipalDep, ref: DatasetPathDep) -> Response:
    """The dataset's occurrences as a Darwin Core Archive: occurrence core, meta.xml and EML."""
    return _zip(export_dwca(store, principal, ref), ref, "dwca")


@router.get("/datasets/{ref}/camtrap-dp", response_class=Response, responses=ZIP)
def camtrap_dp_download(store: StoreDep, principal: PrincipalDep,
                        ref: DatasetPathDep) -> Response:
    """The dataset's camera-trap deployments, media and observations as Camtrap DP 1.0.2."""
    return _zip(export_camtrap_dp(store, principal, ref), ref, "camtrap-dp")


def save_upload(request: Request, upload: UploadFile) -> FsPath:
    """The upload in a folder of its own under the deployment's uploads (the caller removes
    the folder); its name is the client's file name without any path."""
    name = FsPath(upload.filename or "").name
    if not name or "\x00" in name:
        raise InvalidInput("the upload needs a file name", field="file")
    folder = request.app.state.settings.home / "uploads" / secrets.token_hex(12)
    folder.mkdir(parents=True)
    path = folder / name
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out, length=1 << 20)
    return path


def _import(request: Request, upload: UploadFile, run) -> dict:
    path = save_upload(request, upload)
    try:
        report = run(path).as_dict()
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    report["file"] = path.name  # not the server's upload folder
    return report


@router.post("/datasets/{ref}/dwca", status_code=201)
def dwca_upload(request: Request, store: StoreDep, principal: UserDep, ref: DatasetPathDep,
                file: Annotated[UploadFile, File(description="Darwin Core Archive (zip)")]
                ) -> dict:
    """Import a Darwin Core Archive into the dataset; answers the run with its rejects."""
    return _import(request, file,
                   lambda p: import_dwca(store, p, dataset=ref, principal=principal,
                                         file_name=p.name))


@router.post("/datasets/{ref}/camtrap-dp", status_code=201)
def camtrap_dp_upload(request: Request, store: StoreDep, principal: UserDep,
                      ref: DatasetPathDep,
                      file: Annotated[UploadFile, File(description="Camtrap DP package (zip)")]
                      ) -> dict:
    """Import a Camtrap DP package (validated offline against the vendored profile)."""
    return _import(request, file,
                   lambda p: import_camtrap_dp(store, p, dataset=ref, principal=principal,
                                               file_name=p.name))
