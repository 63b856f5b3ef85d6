"""Deleting a user deletes their memberships in every org, in the database.

Django's collector deletes the related rows it can see, and under Row-Level Security it sees
only the memberships of the org the admin is working in: deleting a user who was also a
member elsewhere failed at commit (the other orgs' memberships still pointed at the user, a
500). Users are global (tenancy.md, invariant 7), so the foreign key now cascades in
PostgreSQL itself; referential actions are not subject to Row-Level Security.
"""

from django.db import migrations

CASCADE = """
DO $$
DECLARE
    name text;
BEGIN
    SELECT conname INTO STRICT name FROM pg_constraint
    WHERE conrelid = 'orgs_membership'::regclass AND contype = 'f'
      AND confrelid = 'auth_user'::regclass;
    EXECUTE format('ALTER TABLE orgs_membership DROP CONSTRAINT %I', name);
    EXECUTE format(
        'ALTER TABLE orgs_membership ADD CONSTRAINT %I FOREIGN KEY (user_id) REFERENCES auth_user (id)'
        ' ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED', name);
END
$$;
"""

NO_ACTION = CASCADE.replace(" ON DELETE CASCADE", "")


class Migration(migrations.Migration):
    dependencies = [("orgs", "0004_key_lookup_searches_pg_temp_last")]

    operations = [migrations.RunSQL(CASCADE, NO_ACTION)]
