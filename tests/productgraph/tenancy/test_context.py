"""The org context helper and the RLS policies, as the runtime role (tenancy.md 2-4)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, ProgrammingError, connection, transaction

from orgs.models import ApiKey, Project
from productgraph.dberrors import is_rls_violation
from productgraph.tenancy.context import OrgContextError, current_org_id, org_context


def test_org_context_refuses_to_run_outside_a_transaction(committed):
    with pytest.raises(OrgContextError), org_context(1):
        pass


def test_org_context_rejects_a_non_integer_org(db):
    with pytest.raises(OrgContextError), org_context("1"):  # type: ignore[arg-type]
        pass


def test_no_org_context_sees_zero_rows(acme, globex):
    assert Project.objects.count() == 0
    assert ApiKey.objects.count() == 0


def test_org_context_sees_only_its_own_rows(acme, globex):
    with org_context(acme.org.pk):
        assert list(Project.objects.values_list("public_id", flat=True)) == ["proj_acme"]
        assert ApiKey.objects.filter(org_id=globex.org.pk).count() == 0
    with org_context(globex.org.pk):
        assert list(Project.objects.values_list("public_id", flat=True)) == ["proj_globex"]


def test_write_without_org_context_is_rejected(acme):
    with pytest.raises(ProgrammingError) as caught, transaction.atomic():
        Project.objects.create(org=acme.org, name="x", slug="x", public_id="proj_x")
    assert is_rls_violation(caught.value)


def test_cross_org_insert_is_rejected(acme, globex):
    with (
        pytest.raises(ProgrammingError) as caught,
        transaction.atomic(),
        org_context(acme.org.pk),
    ):
        Project.objects.create(org=globex.org, name="x", slug="x", public_id="proj_x")
    assert is_rls_violation(caught.value)


def test_cross_org_update_touches_nothing(acme, globex):
    with org_context(acme.org.pk):
        changed = Project.objects.filter(pk=globex.project.pk).update(name="pwned")
    assert changed == 0
    with org_context(globex.org.pk):
        assert Project.objects.get(pk=globex.project.pk).name == "Web"


def test_moving_a_row_to_another_org_is_rejected(acme, globex):
    with (
        pytest.raises(ProgrammingError) as caught,
        transaction.atomic(),
        org_context(acme.org.pk),
    ):
        Project.objects.filter(pk=acme.project.pk).update(org_id=globex.org.pk)
    assert is_rls_violation(caught.value)


def test_nested_context_restores_the_outer_org(acme, globex):
    with org_context(acme.org.pk):
        with org_context(globex.org.pk):
            assert current_org_id() == globex.org.pk
        assert current_org_id() == acme.org.pk
        assert Project.objects.get().public_id == "proj_acme"
    assert current_org_id() is None


def test_exception_in_nested_context_restores_the_outer_org(acme, globex):
    with org_context(acme.org.pk):
        with pytest.raises(ValueError), org_context(globex.org.pk):
            raise ValueError("boom")
        assert current_org_id() == acme.org.pk


def test_failed_statement_in_nested_context_restores_the_outer_org(acme, globex):
    with org_context(acme.org.pk):
        with pytest.raises(IntegrityError), org_context(globex.org.pk):
            Project.objects.create(org=globex.org, name="dup", slug="web", public_id="proj_other")
        assert current_org_id() == acme.org.pk
        assert Project.objects.get().public_id == "proj_acme"


def test_org_setting_is_transaction_local(committed):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('app.current_org_id', '7', true)")
    with connection.cursor() as cursor:
        cursor.execute("SELECT NULLIF(current_setting('app.current_org_id', true), '')")
        assert cursor.fetchone()[0] is None
