"""The Segment-spec door against real clients from PyPI, unmodified: segment-analytics-python
and rudder-sdk-python (a CDP that speaks the Segment spec), each sending every call type to
the production server and reading the events back through GraphQL, field for field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rudderstack.analytics import Client as RudderClient
from rudderstack.analytics.request import APIError as RudderAPIError
from rudderstack.analytics.version import VERSION as RUDDER_VERSION
from segment.analytics import Client as SegmentClient
from segment.analytics.request import APIError as SegmentAPIError
from segment.analytics.version import VERSION as SEGMENT_VERSION

from tests.conftest import make_tenant
from tests.ingestion.clients.readback import EVENT_FIELDS, by_event_id, events_read

# A whole second, an hour ago: inside retention, and exact through every client's isoformat.
WHEN = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
DAY = WHEN.date().isoformat()
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15"


def calls(client: Any, prefix: str) -> None:
    """One call of each type, as an application would make them."""
    page_context = {
        "userAgent": BROWSER,
        "page": {
            "path": "/pricing",
            "url": "https://acme.test/pricing",
            "title": "Pricing",
            "referrer": "https://search.test/",
        },
    }
    client.page(
        anonymous_id="anon-1",
        category="Docs",
        name="Pricing",
        properties={"plan": "pro"},
        context=page_context,
        timestamp=WHEN,
        message_id=f"{prefix}-page",
    )
    client.track(
        anonymous_id="anon-1",
        event="Order Completed",
        properties={"revenue": 12.5, "items": [{"sku": "A-1"}]},
        context={"sessionId": "tab-7"},
        timestamp=WHEN,
        message_id=f"{prefix}-track",
    )
    client.identify(
        user_id="user-7",
        anonymous_id="anon-1",
        traits={"email": "ada@acme.test"},
        timestamp=WHEN,
        message_id=f"{prefix}-identify",
    )
    client.group(
        user_id="user-7",
        group_id="org-3",
        traits={"plan": "enterprise"},
        timestamp=WHEN,
        message_id=f"{prefix}-group",
    )
    client.alias(
        previous_id="anon-1", user_id="user-7", timestamp=WHEN, message_id=f"{prefix}-alias"
    )
    client.screen(
        user_id="user-7",
        name="Settings",
        properties={"tab": "privacy"},
        context={"screen": {"width": 390, "height": 844}},
        timestamp=WHEN,
        message_id=f"{prefix}-screen",
    )


def expected(
    prefix: str,
    *,
    library: dict[str, str],
    sdk_agent: str,
    channel: str | None = None,
    identify_context: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Every GraphQL field of each stored event, as segment.md's mapping says."""

    def event(call: str, context: dict[str, Any] | None = None, /, **fields: Any) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "segment": call,
            "context": {**(context or {}), "library": library},
        }
        if channel is not None:
            metadata["channel"] = channel
        row = dict.fromkeys(EVENT_FIELDS)
        row.update(
            {
                "eventId": f"{prefix}-{call}",
                "timestamp": WHEN,
                "metadata": metadata,
                "userAgent": sdk_agent,
                **fields,
            }
        )
        del row["receivedAt"]
        return row

    anonymous = {"anonymousId": "anon-1", "sessionId": f"seg-{DAY}:a:anon-1"}
    user = {"userId": "user-7", "sessionId": f"seg-{DAY}:u:user-7"}
    # metadata.context keeps what did not become a column: here only the library, and
    # RudderStack's identify traits (segment.md).
    return {
        f"{prefix}-page": event(
            "page",
            **anonymous,
            eventType="page.view",
            eventName="Pricing",
            pagePath="/pricing",
            pageUrl="https://acme.test/pricing",
            pageTitle="Pricing",
            pageReferrer="https://search.test/",
            userAgent=BROWSER,
            attributes={"plan": "pro", "category": "Docs"},
        ),
        f"{prefix}-track": event(
            "track",
            anonymousId="anon-1",
            sessionId="tab-7",
            eventType="custom",
            eventName="Order Completed",
            attributes={"revenue": 12.5, "items": [{"sku": "A-1"}]},
        ),
        f"{prefix}-identify": event(
            "identify",
            identify_context,
            **anonymous,
            userId="user-7",
            eventType="custom",
            eventName="identify",
            attributes={"email": "ada@acme.test"},
        ),
        f"{prefix}-group": event(
            "group",
            **user,
            eventType="custom",
            eventName="group",
            attributes={"plan": "enterprise", "groupId": "org-3"},
        ),
        f"{prefix}-alias": event(
            "alias",
            **user,
            eventType="custom",
            eventName="alias",
            attributes={"previousId": "anon-1"},
        ),
        f"{prefix}-screen": event(
            "screen",
            **user,
            eventType="page.view",
            eventName="Settings",
            uiViewport="390x844",
            attributes={"tab": "privacy"},
        ),
    }


def read_back(live, tenant) -> dict[str, dict[str, Any]]:
    """The stored events by id, `timestamp` parsed, `receivedAt` checked then dropped."""
    found = by_event_id(events_read(live, secret_key=tenant.secret_key, project="proj_acme"))
    for node in found.values():
        assert datetime.fromisoformat(node.pop("receivedAt")) > WHEN
        node["timestamp"] = datetime.fromisoformat(node["timestamp"])
    return found


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_segment_analytics_python_sends_every_call_type_in_one_batch(live, committed, gzip):
    tenant = make_tenant("acme")
    failures: list[Any] = []
    client = SegmentClient(
        tenant.ingest_key,
        host=f"http://127.0.0.1:{live.port}",
        gzip=gzip,
        upload_interval=0.2,  # the six calls go in one batch
        on_error=lambda error, batch: failures.append(error),
        max_retries=0,
    )
    calls(client, "seg")
    client.flush()
    client.join()
    assert failures == []
    library = {"name": "analytics-python", "version": SEGMENT_VERSION}
    want = expected("seg", library=library, sdk_agent=f"analytics-python/{SEGMENT_VERSION}")
    assert read_back(live, tenant) == want


def test_segment_analytics_python_resends_are_duplicates(live, committed):
    tenant = make_tenant("acme")
    client = SegmentClient(tenant.ingest_key, host=f"http://127.0.0.1:{live.port}", sync_mode=True)
    for _ in range(2):  # a retry after a lost answer: the same messageId
        client.track(user_id="user-7", event="Clicked", timestamp=WHEN, message_id="once")
    [node] = events_read(live, secret_key=tenant.secret_key, project="proj_acme")
    assert node["eventId"] == "once"


def test_rudder_sdk_python_sends_every_call_type_gzipped(live, committed):
    tenant = make_tenant("acme")
    failures: list[Any] = []
    client = RudderClient(
        tenant.ingest_key,
        host=f"http://127.0.0.1:{live.port}",  # the dataPlaneUrl
        upload_interval=0.2,
        on_error=lambda error, batch: failures.append(error),
        max_retries=0,
    )
    calls(client, "rudder")
    client.flush()
    client.join()
    assert failures == []
    library = {"name": "analytics-python", "version": RUDDER_VERSION}
    # RudderStack's identify sends its traits as context.traits, not traits: same attributes.
    want = expected(
        "rudder",
        library=library,
        sdk_agent=f"analytics-python/{RUDDER_VERSION}",
        channel="server",
        identify_context={"traits": {"email": "ada@acme.test"}},
    )
    assert read_back(live, tenant) == want


@pytest.mark.parametrize(
    ("client_class", "error_class"),
    [(SegmentClient, SegmentAPIError), (RudderClient, RudderAPIError)],
    ids=["segment", "rudder"],
)
def test_both_clients_read_our_error_code_and_message(live, committed, client_class, error_class):
    make_tenant("acme")
    client = client_class("pk_" + "x" * 40, host=f"http://127.0.0.1:{live.port}", sync_mode=True)
    with pytest.raises(error_class) as raised:
        client.track(user_id="user-7", event="Clicked")
    assert (raised.value.status, raised.value.code) == (401, "invalid_api_key")
    assert raised.value.message == "Unknown or revoked API key."
