"""Sessions are tenant data: RLS enabled and forced."""

from django.db import migrations

from productgraph.tenancy.operations import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("product_sessions", "0001_initial")]

    operations = [EnableRowLevelSecurity("session")]
