"""Test-only endpoints that expose what a request sees, to test the tenancy edges."""

from __future__ import annotations

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from orgs.models import Project
from productgraph.tenancy.context import current_org_id
from productgraph.urls import handler400, handler403, handler404, handler500  # noqa: F401
from productgraph.urls import urlpatterns as product_urls


class WhoAmI(APIView):
    def get(self, request):
        return Response(
            {
                "org_id": current_org_id(),
                "project_id": request.auth.project_id,
                "kind": request.auth.kind,
                "visible_projects": sorted(Project.objects.values_list("public_id", flat=True)),
            }
        )


class Anonymous(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"org_id": current_org_id(), "projects": Project.objects.count()})


class CrossInsert(APIView):
    def post(self, request):
        Project.objects.create(
            org_id=request.data["org_id"], name="x", slug="x", public_id="proj_cross"
        )
        return Response({"created": True})


class WriteThenFail(APIView):
    def post(self, request):
        Project.objects.create(
            org_id=request.auth.org_id, name="half", slug="half", public_id="proj_half"
        )
        raise RuntimeError("failure after a write")


urlpatterns = [
    path("probe/whoami", WhoAmI.as_view()),
    path("probe/anonymous", Anonymous.as_view()),
    path("probe/cross-insert", CrossInsert.as_view()),
    path("probe/write-then-fail", WriteThenFail.as_view()),
    *product_urls,
]
