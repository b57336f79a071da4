"""Model files and their versions: written safely, loaded only when signed by this installation.

A model file is a joblib pickle, and unpickling runs code, so a file is read once and only
those bytes are checked and loaded (no hash-then-reopen race): their SHA-256 must match the one
recorded in the database, and their HMAC-SHA256 under a key kept outside the database
(``app.core.keys``: whoever can write the row and the models folder still cannot sign a file)
must match the file's signature, bound to the version's name. Only then are the same bytes
unpickled. A file from another scikit-learn version, or an unsigned one written before files
were signed, is never unpickled: it is retrained from the decisions it was trained on (the
trusted path) and replaced by a signed file. A signed-looking file whose signature fails is
refused with one line."""

from __future__ import annotations

import hashlib
import hmac
import io
import os
from pathlib import Path

import joblib
import sklearn
from sqlmodel import Session, col, select

from app.core.errors import UserError
from app.core.files import private_dir, private_file
from app.core.keys import derived_key
from app.core.settings import get_settings
from app.learning.frames import decided_frame
from models.learning.priority import (
    PriorityModel,
)
from review_queue.tables import ModelVersion

KIND = "priority"
SIGNED = b"GAPDESK-MODEL signed hmac-sha256\n"
_MAC_LENGTH = 64


class ModelFileRefused(UserError):
    """A model file is missing or fails its checksum: it is never loaded."""


class ModelOutdated(Exception):
    """A model file was written by another scikit-learn version, or before model files were
    signed: retrain, never load it."""


def _signature(version: str, payload: bytes) -> bytes:
    key = derived_key("model-file")
    return hmac.new(key, version.encode() + b"\0" + payload, hashlib.sha256).hexdigest().encode()


# ---------------------------------------------------------------- model files
def models_dir(home: Path | None = None) -> Path:
    """Where model files live: ``<home>/models``."""
    return (home or get_settings().home) / "models"


def save_model(model: PriorityModel, *, version: str, home: Path | None = None) -> tuple[str, str]:
    """Write a model file; returns its path and SHA-256 (recorded in the database)."""
    folder = private_dir(models_dir(home))
    path = folder / f"{KIND}-{version}.joblib"
    tmp = path.with_suffix(".tmp")
    buffer = io.BytesIO()
    joblib.dump({"model": model, "sklearn_version": sklearn.__version__}, buffer)
    payload = buffer.getvalue()
    data = SIGNED + _signature(version, payload) + b"\n" + payload
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    private_file(tmp)
    os.replace(tmp, path)  # never leave a half-written file under the final name
    return str(path), hashlib.sha256(data).hexdigest()


def load_model(row: ModelVersion) -> PriorityModel:
    """The model of a version row, after checking its scikit-learn version and its checksum."""
    if row.sklearn_version != sklearn.__version__:
        raise ModelOutdated(
            f"model {row.version} was made with scikit-learn {row.sklearn_version}, "
            f"this is {sklearn.__version__}"
        )
    path = Path(row.artifact_path or "")
    try:
        data = path.read_bytes() if row.artifact_path else None  # read once: checked = loaded
    except (FileNotFoundError, IsADirectoryError):
        data = None
    except OSError as exc:
        raise ModelFileRefused(f"model {row.version}: cannot read {path}: {exc.strerror}") from None
    if data is None:
        raise ModelFileRefused(f"model {row.version}: file {path} is missing; run gapdesk retrain")
    found = hashlib.sha256(data).hexdigest()
    if found != row.artifact_sha256:
        raise ModelFileRefused(
            f"model {row.version}: file {path} fails its checksum (recorded "
            f"{(row.artifact_sha256 or '')[:12]}…, found {found[:12]}…); refusing to load it — "
            "restore the file or run gapdesk retrain"
        )
    if not data.startswith(SIGNED):
        raise ModelOutdated(f"model {row.version}: file {path} was written before signing")
    mac, payload = (
        data[len(SIGNED) : len(SIGNED) + _MAC_LENGTH],
        data[len(SIGNED) + _MAC_LENGTH + 1 :],
    )
    if not hmac.compare_digest(mac, _signature(row.version, payload)):
        raise ModelFileRefused(
            f"model {row.version}: file {path} is not signed with this installation's key "
            "(replaced, or from another installation); refusing to load it — run gapdesk retrain"
        )
    try:
        return joblib.load(io.BytesIO(payload))["model"]
    except Exception as exc:  # a signed file we wrote ourselves; anything else is damage
        raise ModelFileRefused(
            f"model {row.version}: file {path} cannot be read ({type(exc).__name__}); "
            "run gapdesk retrain"
        ) from None


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
    """Load a version's model; one made by another scikit-learn version or written unsigned is
    retrained on the decisions it was trained on (up to its creation), never unpickled, and its
    file and checksum replaced."""
    try:
        return load_model(row)
    except ModelOutdated as exc:
        decided = decided_frame(session=session, until=row.created_at)
        model = PriorityModel().fit(decided)
        row.artifact_path, row.artifact_sha256 = save_model(model, version=row.version, home=home)
        row.sklearn_version = sklearn.__version__
        row.metrics = {
            **(row.metrics or {}),
            "retrained_for_sklearn": sklearn.__version__,
            "retrained_because": str(exc),
        }
        session.add(row)
        return model
