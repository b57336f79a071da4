"""The default demo organisation (seed 1, 2,000 people, 120 days), generated once per worker."""

from __future__ import annotations

import pytest

from app.demo.organisation import generate_demo_org
from tests.app.demo.reference_rules import Snap


@pytest.fixture(scope="session")
def default_org(tmp_path_factory: pytest.TempPathFactory) -> Snap:
    folder = tmp_path_factory.mktemp("demo-default")
    generate_demo_org(folder, seed=1)
    return Snap(folder)
