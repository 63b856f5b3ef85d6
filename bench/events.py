"""Realistic event batches, shared by the load generator and the COPY ceiling.

No Django here: the load generator imports this module and nothing of the app. A batch is
built once as a template whose event ids all start with `TOKEN`; each request replaces the
token with a fresh, equally long one (`bytes.replace`), so every event id is unique while
building a request costs microseconds, not a JSON encoding.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

TOKEN = "@" * 20  # never produced by the generator or by JSON encoding of its values
TOKEN_BYTES = TOKEN.encode()

_PAGES = (
    ("/", "Home"),
    ("/pricing", "Pricing"),
    ("/docs/getting-started", "Getting started"),
    ("/dashboard", "Dashboard"),
    ("/settings/billing", "Billing"),
    ("/projects/42/funnels", "Funnels"),
    ("/checkout", "Checkout"),
    ("/blog/2025/launch-week", "Launch week"),
)
_COMPONENTS = (
    ("SignupButton", "App/Header/SignupButton", "button", "button#signup", "Start free trial"),
    ("PlanCard", "App/Pricing/PlanGrid/PlanCard", "card", "div.plan-card", "Team plan"),
    ("SearchInput", "App/Header/Search/SearchInput", "input", "input#q", ""),
    ("SaveButton", "App/Settings/BillingForm/SaveButton", "button", "button.save", "Save"),
    ("NavLink", "App/Sidebar/Nav/NavLink", "link", "a.nav-link", "Funnels"),
)
_API_PATHS = ("/api/projects", "/api/funnels/run", "/api/billing/invoices", "/api/search")
_TYPES = (
    ("page.view", 15),
    ("ui.click", 30),
    ("ui.input", 10),
    ("ui.scroll", 10),
    ("state.change", 10),
    ("api.request", 5),
    ("api.response", 10),
    ("performance", 5),
    ("journey.step", 3),
    ("error", 2),
)
_STACK = "\n".join(
    f"    at {name} (https://app.example.com/assets/app.9f3c1.js:{line}:{column})"
    for name, line, column in [
        ("renderPlanGrid", 1832, 17),
        ("commitHookEffectListMount", 22931, 26),
        ("invokePassiveEffectMountInDEV", 25019, 13),
        ("flushPassiveEffects", 26403, 9),
        ("performSyncWorkOnRoot", 26651, 7),
    ]
)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_events(
    *,
    count: int,
    project_public_id: str,
    sessions: list[str],
    seed: int,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Return `count` valid events with ids `TOKEN-<index>`, spread over `sessions`.

    The mix of types and fields follows what a browser SDK sends (page views, clicks,
    inputs, state changes, API calls, web vitals, a few errors), with the project id on
    every event and two free attributes that land in the `attributes` column. Timestamps
    are a few milliseconds apart, just before `now` and never before the current month,
    so the write path never has to create a partition during a run.
    """
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    now = now or datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    types = [name for name, _ in _TYPES]
    weights = [weight for _, weight in _TYPES]
    events: list[dict[str, Any]] = []
    for index in range(count):
        session = sessions[index % len(sessions)]
        kind = rng.choices(types, weights)[0]
        path, title = rng.choice(_PAGES)
        moment = max(month_start, now - timedelta(milliseconds=37 * (count - index)))
        event: dict[str, Any] = {
            "event_id": f"{TOKEN}-{index:04d}",
            "session.id": session,
            "event.type": kind,
            "event.timestamp": _iso(moment),
            "project_id": project_public_id,
            "user.anonymous_id": f"anon-{session}",
            "event.sequence": index,
            "page.path": path,
            "page.url": f"https://app.example.com{path}?utm_source=newsletter",
            "ui.viewport": rng.choice(("1440x900", "390x844", "1920x1080")),
            "app.version": "3.14.2",
            "browser.name": rng.choice(("Firefox", "Chrome", "Safari")),
        }
        if rng.random() < 0.6:
            event["user.id"] = f"user-{session}"
        if rng.random() < 0.2:
            event["metadata"] = {"experiment": "pricing-v2", "variant": rng.choice("ab")}
        _add_type_fields(event, kind, rng, title)
        events.append(event)
    return events


def _add_type_fields(event: dict[str, Any], kind: str, rng: random.Random, title: str) -> None:
    if kind == "page.view":
        event.update(
            {
                "page.title": title,
                "page.referrer": "https://www.google.com/",
                "event.name": title,
                "duration_ms": rng.randint(50, 4000),
            }
        )
    elif kind in ("ui.click", "ui.input"):
        name, path, component_type, element, text = rng.choice(_COMPONENTS)
        event.update(
            {
                "ui.component.name": name,
                "ui.component.path": path,
                "ui.component.type": component_type,
                "ui.action": kind.removeprefix("ui."),
                "ui.element": element,
                "ui.element.text": text,
            }
        )
    elif kind == "ui.scroll":
        event.update({"ui.action": "scroll", "ui.scroll.position": round(rng.random(), 3)})
    elif kind == "state.change":
        before = rng.randint(0, 5)
        event.update(
            {
                "ui.state.key": "cart.items",
                "ui.state.before": {"count": before, "currency": "EUR"},
                "ui.state.after": {"count": before + 1, "currency": "EUR"},
                "ui.state.change_type": "update",
            }
        )
    elif kind in ("api.request", "api.response"):
        event.update(
            {
                "api.method": rng.choice(("GET", "POST")),
                "api.path": rng.choice(_API_PATHS),
                "api.status_code": rng.choice((200, 200, 200, 201, 404)),
                "api.duration_ms": rng.randint(5, 900),
            }
        )
    elif kind == "performance":
        event.update(
            {
                "performance.lcp_ms": round(rng.uniform(400, 4000), 1),
                "performance.fid_ms": round(rng.uniform(1, 120), 1),
                "performance.inp_ms": round(rng.uniform(20, 400), 1),
                "performance.cls": round(rng.uniform(0, 0.3), 3),
                "performance.ttfb_ms": round(rng.uniform(30, 600), 1),
            }
        )
    elif kind == "journey.step":
        event.update(
            {
                "gen_ai.journey.id": "checkout",
                "gen_ai.journey.step.id": "plan-selected",
                "gen_ai.journey.step.name": "Plan selected",
            }
        )
    elif kind == "error":
        event.update(
            {
                "error.type": "TypeError",
                "error.message": "Cannot read properties of undefined (reading 'price')",
                "error.stack": "TypeError: Cannot read properties of undefined\n" + _STACK,
                "error.component": "PlanCard",
            }
        )


def batch_body(events: list[dict[str, Any]]) -> bytes:
    """Return the request body `{"events": [...]}`, compact JSON."""
    return json.dumps({"events": events}, separators=(",", ":"), ensure_ascii=False).encode()


def session_ids(*, prefix: str, count: int) -> list[str]:
    """Return `count` session ids for one simulated client."""
    return [f"sess-{prefix}-{index:03d}" for index in range(count)]
