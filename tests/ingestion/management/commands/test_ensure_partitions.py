"""`manage.py ensure_partitions`: idempotent, months back and ahead, RLS kept."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from ingestion.partitions import partition_months
from tests.conftest import run_json
from tests.ingestion.helpers import partition_exists


def test_ensure_partitions_is_idempotent_and_keeps_the_rls_invariants(db, capsys):
    months = partition_months(now=timezone.now(), months_back=1, months_ahead=3)
    expected = [f"ingestion_event_{month:%Y%m}" for month in months]
    first = run_json(capsys, "ensure_partitions")
    again = run_json(capsys, "ensure_partitions")
    assert first["partitions"] == again["partitions"] == expected
    assert set(first["created"]) <= set(expected)
    assert again["created"] == []
    assert all(partition_exists(name) for name in expected)
    assert run_json(capsys, "check_rls") == {"ok": True, "breaches": []}


def test_ensure_partitions_takes_months_back_and_ahead(db, capsys):
    out = run_json(capsys, "ensure_partitions", "--months-back", "3", "--months-ahead", "0")
    months = partition_months(now=timezone.now(), months_back=3, months_ahead=0)
    assert out["partitions"] == [f"ingestion_event_{month:%Y%m}" for month in months]
    call_command("ensure_partitions", "--months-back", "3", "--months-ahead", "0")
    assert "created: none" in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--months-ahead", "--months-back"])
def test_ensure_partitions_refuses_negative_months(db, flag):
    with pytest.raises(CommandError, match=flag):
        call_command("ensure_partitions", flag, "-1")
