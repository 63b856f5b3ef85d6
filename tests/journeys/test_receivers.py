"""Journeys' side of the sessions hand-offs (journeys/receivers.py)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction

from productgraph.tenancy.context import org_context
from sessions.services import sessions_close_idle
from tests.journeys.helpers import live_cart_visit, make_journey, rows


def test_closing_an_idle_session_ends_its_pending_journeys_at_once(client, acme, capsys):
    make_journey(acme)
    now = live_cart_visit(client, acme)
    capsys.readouterr()
    with transaction.atomic(), org_context(acme.org.pk):
        closed = sessions_close_idle(org_id=acme.org.pk, now=now + timedelta(minutes=31))
    assert closed == 1
    assert rows(acme)["live"].status == "bounced"  # not at the next refresh, minutes later
