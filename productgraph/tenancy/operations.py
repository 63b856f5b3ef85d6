"""Migration operation that puts a tenant table under Row-Level Security."""

from __future__ import annotations

from django.db.migrations.operations.base import Operation

from productgraph.tenancy.policies import disable_rls_sql, enable_rls_sql


class EnableRowLevelSecurity(Operation):
    """Enable and force RLS on a model's table with the org-isolation policy.

    Use it in the migration that creates any model with an `org_id` column:
    `EnableRowLevelSecurity("project")`. `check_rls` fails for a table without it.
    """

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

    def deconstruct(self):
        return (self.__class__.__qualname__, [self.model_name], {})

    def state_forwards(self, app_label, state):
        """Change nothing in the model state: RLS lives only in the database."""

    def _table(self, app_label, state) -> str:
        return state.apps.get_model(app_label, self.model_name)._meta.db_table

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        for statement in enable_rls_sql(self._table(app_label, to_state)):
            schema_editor.execute(statement)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        for statement in disable_rls_sql(self._table(app_label, from_state)):
            schema_editor.execute(statement)

    def describe(self):
        return f"Enable and force row-level security on {self.model_name}"

    @property
    def migration_name_fragment(self):
        return f"rls_{self.model_name.lower()}"
