"""Model files and their versions: written safely, loaded only after their checksum matches.

Model files are joblib pickles, so they are only ever loaded after their SHA-256 matches the one
recorded in the database and only when the scikit-learn version that wrote them is the one
running; a file from another version is retrained instead."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import joblib
import sklearn
from sqlmodel import Session, col, select

from app.core.errors import UserError
from app.core.settings import get_settings
from app.learning.frames import decided_frame
from models.learning.priority import (
    PriorityModel,
)
from review_queue.tables import ModelVersion

KIND = "priority"


class ModelFileRefused(UserError):
    """A model file is missing or fails its checksum: it is never loaded."""


class ModelOutdated(Exception):
    """A model file was written by another scikit-learn version: retrain, never load it."""


# ---------------------------------------------------------------- model files
def models_dir(home: Path | None = None) -> Path:
    """Where model files live: ``<home>/models``."""
    return (home or get_settings().home) / "models"


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(model: PriorityModel, *, version: str, home: Path | None = None) -> tuple[str, str]:
    """Write a model file; returns its path and SHA-256 (recorded in the database)."""
    folder = models_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{KIND}-{version}.joblib"
    tmp = path.with_suffix(".tmp")
    joblib.dump({"model": model, "sklearn_version": sklearn.__version__}, tmp)
    os.replace(tmp, path)  # never leave a half-written file under the final name
    return str(path), sha256_of(path)


def load_model(row: ModelVersion) -> PriorityModel:
    """The model of a version row, after checking its scikit-learn version and its checksum."""
    if row.sklearn_version != sklearn.__version__:
        raise ModelOutdated(
            f"model {row.version} was made with scikit-learn {row.sklearn_version}, "
            f"this is {sklearn.__version__}"
        )
    path = Path(row.artifact_path or "")
    if not row.artifact_path or not path.is_file():
        raise ModelFileRefused(f"model {row.version}: file {path} is missing; run gapdesk retrain")
    found = sha256_of(path)
    if found != row.artifact_sha256:
        raise ModelFileRefused(
            f"model {row.version}: file {path} fails its checksum (recorded "
            f"{(row.artifact_sha256 or '')[:12]}…, found {found[:12]}…); refusing to load it — "
            "restore the file or run gapdesk retrain"
        )
    payload = joblib.load(path)
    return payload["model"]


def promoted_version(*, session: Session) -> ModelVersion | None:
    """The priority model the queue uses now (none before the first promotion)."""
    return session.exec(
        select(ModelVersion)
        .where(col(ModelVersion.kind) == KIND, col(ModelVersion.status) == "promoted")
        .order_by(col(ModelVersion.promoted_at).desc())
    ).first()


def list_versions(*, session: Session) -> list[ModelVersion]:
    """Every priority model version, newest first."""
    return list(
        session.exec(
            select(ModelVersion)
            .where(col(ModelVersion.kind) == KIND)
            .order_by(col(ModelVersion.id).desc())
        )
    )


def usable_model(*, session: Session, row: ModelVersion, home: Path | None = None) -> PriorityModel:
    """Load a version's model; one made by another scikit-learn version is retrained on the
    decisions it was trained on (up to its creation) and its file and checksum replaced."""
    try:
        return load_model(row)
    except ModelOutdated:
        decided = decided_frame(session=session, until=row.created_at)
        model = PriorityModel().fit(decided)
        row.artifact_path, row.artifact_sha256 = save_model(model, version=row.version, home=home)
        row.sklearn_version = sklearn.__version__
        row.metrics = {**(row.metrics or {}), "retrained_for_sklearn": sklearn.__version__}
        session.add(row)
        return model
