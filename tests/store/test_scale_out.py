"""A small scale-out run in the default test suite: two instances on one PostgreSQL (behind nginx when
it is installed, else alternated by the client), one instance SIGKILLed and restarted mid-run; the
PostgreSQL restart is left to the full run (tests/load/scale_out.py)."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.load.scale_out import run

from .conftest import NO_PG, PG_ENV


@pytest.mark.skipif(not os.environ.get(PG_ENV), reason=NO_PG)
def test_two_instances_on_one_database_keep_one_row_per_panel_and_share_history_through_a_kill():
    report = run(
        requests=240,
        patients=20,
        concurrency=6,
        kill=True,
        pg_restart=False,
        proxy="nginx" if shutil.which("nginx") else "client",
    )
    assert report["checks"] == {name: True for name in report["checks"]}, report
    assert report["rows"] == 240
    assert [f["what"] for f in report["faults"]] == ["SIGKILL a", "a restarted"]
