"""The permission `orgs.act_for_any_org`: staff enter an org without a Membership there.

Given per person in the user admin; superusers hold it as they hold every permission.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("orgs", "0005_membership_user_cascades_in_every_org")]

    operations = [
        migrations.AlterModelOptions(
            name="organization",
            options={
                "ordering": ["slug"],
                "permissions": [("act_for_any_org", "Can act for any organization in the admin")],
            },
        ),
    ]
