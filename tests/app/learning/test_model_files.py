"""A model file cannot run code (issue 15.5, 15.16): the bytes checked are the bytes loaded, and
only a file signed with this installation's key (kept outside the database) is unpickled."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import pickle
import threading
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from app.learning.model_store import SIGNED, ModelFileRefused, load_model, usable_model
from app.learning.retraining import promote, retrain
from review_queue.permissions import Actor
from review_queue.tables import ModelVersion, User
from tests.app.cli.test_cli import run
from tests.app.learning.test_learning import _decided_queue
from tests.helpers.queue_fixtures import add_people


class _Payload:
    """A pickle that makes a folder when it is loaded: proof that loading ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (str(self.marker),)


def _trained(session: Session) -> ModelVersion:
    admin = add_people(session)["ada"]
    _decided_queue(session, admin)
    row = retrain(session=session, actor=admin, k=10).version
    session.commit()
    return row


def _admin(session: Session) -> Actor:
    return Actor.of(session.exec(select(User).where(col(User.name) == "ada")).one())


def _swap_in(row: ModelVersion, data: bytes, session: Session) -> None:
    """What an attacker who can write the models folder and the database does."""
    Path(row.artifact_path or "").write_bytes(data)
    row.artifact_sha256 = hashlib.sha256(data).hexdigest()
    session.add(row)
    session.commit()


def test_model_files_are_signed_and_private(session: Session, gapdesk_home: Path) -> None:
    row = _trained(session)
    path = Path(row.artifact_path or "")
    assert path.read_bytes().startswith(SIGNED)
    assert path.stat().st_mode & 0o777 == 0o600
    assert (gapdesk_home / "models").stat().st_mode & 0o777 == 0o700
    assert load_model(row).predict_proba is not None


def test_a_forged_signature_is_refused_and_never_unpickled(
    session: Session, gapdesk_home: Path, tmp_path: Path
) -> None:
    row = _trained(session)
    marker = tmp_path / "ran"
    payload = pickle.dumps({"model": _Payload(marker)})
    forged = hmac.new(b"a key the attacker made up", payload, hashlib.sha256).hexdigest()
    _swap_in(row, SIGNED + forged.encode() + b"\n" + payload, session)
    with pytest.raises(ModelFileRefused, match="not signed with this installation's key"):
        load_model(row)
    assert not marker.exists()


def test_an_unsigned_pickle_is_retrained_never_unpickled(
    session: Session, gapdesk_home: Path, tmp_path: Path
) -> None:
    row = _trained(session)
    marker = tmp_path / "ran"
    _swap_in(row, pickle.dumps({"model": _Payload(marker)}), session)
    model = usable_model(session=session, row=row)
    session.commit()
    assert not marker.exists() and model.predict_proba is not None
    assert Path(row.artifact_path or "").read_bytes().startswith(SIGNED)
    assert "before signing" in row.metrics["retrained_because"]


def test_a_file_swapped_while_it_is_loaded_never_runs(
    session: Session, gapdesk_home: Path, tmp_path: Path
) -> None:
    # The review won this race in 24 tries when the file was hashed, then opened again.
    row = _trained(session)
    path = Path(row.artifact_path or "")
    good = path.read_bytes()
    marker = tmp_path / "ran"
    bad = pickle.dumps({"model": _Payload(marker)})
    good_copy, bad_copy = tmp_path / "good", tmp_path / "bad"
    stop = threading.Event()

    def swapper() -> None:
        while not stop.is_set():
            for source in (good_copy, bad_copy):
                source.write_bytes(good if source is good_copy else bad)
                os.replace(source, path)

    swapping = threading.Thread(target=swapper)
    swapping.start()
    try:
        for _ in range(300):
            # When the malicious bytes are the ones read, their checksum refuses them.
            with contextlib.suppress(ModelFileRefused):
                load_model(row)
    finally:
        stop.set()
        swapping.join()
    assert not marker.exists()


def test_a_malicious_model_file_is_one_line_on_the_cli(
    session: Session, gapdesk_home: Path, tmp_path: Path
) -> None:
    row = _trained(session)
    marker = tmp_path / "ran"
    payload = pickle.dumps({"model": _Payload(marker)})
    _swap_in(row, SIGNED + b"0" * 64 + b"\n" + payload, session)
    url = str(session.get_bind().url.render_as_string(hide_password=False))
    env = {"GAPDESK_HOME": str(gapdesk_home), "GAPDESK_DATABASE_URL": url}
    done = run("rollback", row.version, env=env)
    assert done.returncode == 1 and not marker.exists()
    [line] = done.stderr.strip().splitlines()
    assert "not signed with this installation's key" in line and "Traceback" not in line
    with pytest.raises(ModelFileRefused):
        promote(session=session, actor=_admin(session), version=row.version)
