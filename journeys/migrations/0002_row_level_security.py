"""Journeys and session-journeys are tenant data: RLS enabled and forced."""

from django.db import migrations

from productgraph.tenancy.operations import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("journeys", "0001_initial")]

    operations = [EnableRowLevelSecurity("journey"), EnableRowLevelSecurity("sessionjourney")]
