"""The server loads what the pages import while it waits for its first visitor."""

from __future__ import annotations

import subprocess
import sys

from app.web.server import page_imports


def test_the_warm_up_list_names_what_the_pages_import() -> None:
    names = page_imports()
    assert "app.detection.coverage" in names  # the admin Home page (scikit-learn behind it)
    assert "app.learning.after_decision" in names  # the Review queue
    assert len(names) == len(set(names))


def test_starting_the_server_module_loads_the_detectors_in_the_background() -> None:
    code = (
        "import sys, threading\n"
        "import app.web.server\n"
        "[t.join() for t in threading.enumerate() if t.name == 'gapdesk-warm-imports']\n"
        "print('models.detectors' in sys.modules, 'sklearn' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["True", "True"]
