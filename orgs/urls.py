from django.urls import path

from orgs.admin_org import switch_org

urlpatterns = [path("admin/switch-org/", switch_org, name="admin-switch-org")]
