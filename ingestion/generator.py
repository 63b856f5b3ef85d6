"""Realistic demo and benchmark events: pure, deterministic for a seed and a clock.

`generate_batches` walks `sessions` simulated visits to a small web shop and yields them as
wire-format events (events.md), grouped in batches of at most `max_events` that share one
User-Agent, as a browser SDK would send them. A session is not split across batches (unless
it alone is longer than one).

Each session has an entry page (most with an external referrer), page views with their
`page.leave`, web vitals, clicks, scrolls, `api.request`/`api.response` pairs (mostly 2xx,
a few 4xx/5xx) with durations, occasional errors, and possibly one of two journeys tagged
with `gen_ai.journey.id` / `gen_ai.journey.step.id`: the checkout funnel
(cart → shipping → payment → confirm) and onboarding (signup → verify_email →
create_project → invite_team), each with drop-off between steps. About a third of the
sessions are anonymous (`user.anonymous_id` only).

The same seed and the same `now` give the same events; the same seed alone gives the same
event ids, so generating twice with one seed stores each event once (duplicates).

Over 400 lines on purpose: the shop's data (pages, referrers, agents, journeys and their
weights, about 150 lines) and the one walk through it (`_Session`), which reads it
throughout and changes with it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any

Event = dict[str, Any]

SITE = "https://shop.example.com"

CHECKOUT_JOURNEY = "checkout"
ONBOARDING_JOURNEY = "onboarding"

# (step id, step name, page path, probability of going on to the NEXT step).
CHECKOUT_STEPS: tuple[tuple[str, str, str, float], ...] = (
    ("cart", "Cart", "/cart", 0.75),
    ("shipping", "Shipping", "/checkout/shipping", 0.70),
    ("payment", "Payment", "/checkout/payment", 0.80),
    ("confirm", "Confirmation", "/checkout/confirm", 0.0),
)
ONBOARDING_STEPS: tuple[tuple[str, str, str, float], ...] = (
    ("signup", "Sign up", "/signup", 0.65),
    ("verify_email", "Verify email", "/signup/verify", 0.80),
    ("create_project", "Create project", "/projects/new", 0.55),
    ("invite_team", "Invite team", "/settings/team", 0.0),
)
CHECKOUT_SHARE = 0.30  # sessions that put something in the cart
ONBOARDING_SHARE = 0.10  # sessions that start signing up

# (user agent, device viewports, weight)
USER_AGENTS: tuple[tuple[str, tuple[str, ...], float], ...] = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36",
        ("1920x1080", "1536x864", "1366x768"),
        0.30,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/17.5 Safari/605.1.15",
        ("1440x900", "1512x982", "1728x1117"),
        0.14,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
        ("1920x1080", "1366x768"),
        0.07,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
        ("1920x1080", "1280x720"),
        0.07,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        ("390x844", "393x852", "430x932"),
        0.22,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.6478.71 Mobile Safari/537.36",
        ("412x915", "360x800"),
        0.16,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        ("820x1180", "1024x1366"),
        0.04,
    ),
)

# (referrer or None for direct traffic, weight)
REFERRERS: tuple[tuple[str | None, float], ...] = (
    (None, 0.35),
    ("https://www.google.com/", 0.33),
    ("https://www.bing.com/", 0.05),
    ("https://duckduckgo.com/", 0.04),
    ("https://news.ycombinator.com/", 0.06),
    ("https://t.co/", 0.06),
    ("https://www.facebook.com/", 0.05),
    ("https://newsletter.example.net/issue-42", 0.06),
)

PRODUCTS = (
    "linen-shirt",
    "merino-sweater",
    "canvas-tote",
    "leather-wallet",
    "running-shoes",
    "rain-jacket",
    "wool-socks",
    "denim-jeans",
)
ARTICLES = ("spring-lookbook", "caring-for-wool", "sizing-guide", "behind-the-seams")

# Browsing pages: (path, title, weight as a next page, weight as an entry page)
BROWSE_PAGES: tuple[tuple[str, str, float, float], ...] = (
    ("/", "Home", 0.16, 0.40),
    ("/products", "All products", 0.20, 0.08),
    *((f"/products/{p}", p.replace("-", " ").title(), 0.05, 0.035) for p in PRODUCTS),
    ("/search", "Search", 0.08, 0.02),
    ("/pricing", "Membership", 0.04, 0.05),
    *((f"/blog/{a}", a.replace("-", " ").title(), 0.02, 0.03) for a in ARTICLES),
    ("/account", "Your account", 0.04, 0.02),
    ("/login", "Log in", 0.03, 0.03),
    ("/help", "Help centre", 0.02, 0.01),
)

# Clickable components per page kind: (name, tree path, type, element, text)
COMPONENTS: dict[str, tuple[tuple[str, str, str, str, str], ...]] = {
    "home": (
        ("HeroBanner", "App/Home/HeroBanner", "banner", "a.hero-cta", "Shop the collection"),
        ("CategoryTile", "App/Home/Categories/CategoryTile", "card", "a.tile", "Knitwear"),
        ("NavBar", "App/Layout/NavBar", "navigation", "a.nav-link", "Products"),
    ),
    "product": (
        ("AddToCartButton", "App/Product/BuyBox/AddToCartButton", "button", "button#add", "Add"),
        ("SizePicker", "App/Product/BuyBox/SizePicker", "select", "select#size", "M"),
        ("ImageGallery", "App/Product/ImageGallery", "carousel", "img.thumb", ""),
        ("ReviewsTab", "App/Product/Tabs/ReviewsTab", "tab", "button.tab", "Reviews"),
    ),
    "list": (
        ("ProductCard", "App/Products/Grid/ProductCard", "card", "a.product", "Linen shirt"),
        ("FilterPanel", "App/Products/FilterPanel", "form", "input.filter", "Size"),
        ("SortMenu", "App/Products/SortMenu", "menu", "button.sort", "Newest"),
    ),
    "checkout": (
        ("ContinueButton", "App/Checkout/Footer/ContinueButton", "button", "button.next", "Next"),
        ("PromoCodeInput", "App/Checkout/Summary/PromoCodeInput", "input", "input#promo", ""),
        ("AddressForm", "App/Checkout/AddressForm", "form", "form#address", ""),
    ),
    "other": (
        ("NavBar", "App/Layout/NavBar", "navigation", "a.nav-link", "Home"),
        ("FooterLink", "App/Layout/Footer/FooterLink", "link", "a.footer", "Contact"),
        ("SearchBox", "App/Layout/NavBar/SearchBox", "input", "input#q", ""),
    ),
}

# API calls a page makes: (method, path)
API_CALLS: dict[str, tuple[tuple[str, str], ...]] = {
    "home": (("GET", "/api/recommendations"), ("GET", "/api/session")),
    "product": (("GET", "/api/products/{id}"), ("GET", "/api/products/{id}/reviews")),
    "list": (("GET", "/api/products"), ("GET", "/api/facets")),
    "checkout": (("POST", "/api/cart/items"), ("GET", "/api/cart"), ("POST", "/api/orders")),
    "other": (("GET", "/api/session"),),
}
CLIENT_ERRORS = (
    (
        "TypeError",
        "Cannot read properties of undefined (reading 'price')",
        "ProductCard",
    ),
    ("ChunkLoadError", "Loading chunk 734 failed.", "App"),
    ("ReferenceError", "analytics is not defined", "NavBar"),
    ("Error", "ResizeObserver loop completed with undelivered notifications.", "ImageGallery"),
)
MAX_PAGES_PER_SESSION = 30


@dataclass(frozen=True)
class Batch:
    """Events one client sends in one request: one User-Agent, whole sessions (a session
    longer than a batch is the one exception: it spans several)."""

    user_agent: str
    events: list[Event]
    sessions: int


def _kind(path: str) -> str:
    if path == "/":
        return "home"
    if path.startswith("/products/"):
        return "product"
    if path in ("/products", "/search"):
        return "list"
    if path.startswith(("/cart", "/checkout")):
        return "checkout"
    return "other"


_DAY_MS = 86_400_000
_days: dict[int, str] = {}


def _iso(ms: int) -> str:
    """Format epoch milliseconds as RFC 3339 UTC with milliseconds (`...T10:30:00.123Z`).

    About four times faster than `datetime.strftime` (the date is cached per day), which
    matters at 100,000+ events a second.
    """
    day, rest = divmod(ms, _DAY_MS)
    date = _days.get(day)
    if date is None:
        date = _days[day] = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%dT")
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{date}{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


class _Session:
    """Builds one session's events; times are milliseconds relative to its start."""

    def __init__(self, rng: random.Random, *, session_id: str, common: Event) -> None:
        self.rng = rng
        self.session_id = session_id
        self.common = common  # keys every event of the session carries
        self.events: list[Event] = []
        self.offsets: list[int] = []
        self.clock = 0
        self.page_url: str | None = None
        self.page_path = ""
        # Where the visit came from. A single-page app keeps `document.referrer` for the whole
        # visit, so every page view sends it; a direct visit sends none.
        self.referrer: str | None = None

    def emit(self, event_type: str, fields: Event, *, after_ms: int = 0) -> None:
        self.clock += after_ms
        sequence = len(self.events)
        event = self.common.copy()
        event["event_id"] = f"evt_{self.session_id[5:]}_{sequence:04d}"
        event["event.type"] = event_type
        event["event.sequence"] = sequence
        if self.page_url is not None:
            event["page.path"] = self.page_path
            event["page.url"] = self.page_url
        event.update(fields)
        self.events.append(event)
        self.offsets.append(self.clock)

    def page(self, path: str, title: str, *, first: bool = False) -> None:
        """A page view, what happens on the page, and its `page.leave`."""
        entered = self.page_view(path, title, first=first)
        self.page_activity()
        self.page_leave(entered)

    def page_view(self, path: str, title: str, *, first: bool = False) -> int:
        """Emit the page view (and web vitals, always on the entry page); return its time."""
        rng = self.rng
        self.page_path = path
        self.page_url = SITE + path
        view: Event = {"page.title": title}
        if self.referrer is not None:
            view["page.referrer"] = self.referrer
        self.emit("page.view", view, after_ms=0 if first else int(rng.uniform(300, 2500)))
        entered = self.clock
        if first or rng.random() < 0.3:
            lcp = rng.lognormvariate(7.3, 0.45)  # median ~1.5 s
            self.emit(
                "performance",
                {
                    "performance.lcp_ms": round(lcp, 1),
                    "performance.fid_ms": round(rng.lognormvariate(2.5, 0.8), 1),
                    "performance.inp_ms": round(rng.lognormvariate(4.9, 0.6), 1),
                    "performance.cls": round(rng.expovariate(12.0), 3),
                    "performance.ttfb_ms": round(lcp * rng.uniform(0.15, 0.4), 1),
                },
                after_ms=int(lcp),
            )
        return entered

    def page_activity(self) -> None:
        """API calls, clicks, a scroll, rarely a client-side error."""
        rng = self.rng
        kind = _kind(self.page_path)
        calls = API_CALLS[kind]
        for method, api_path in rng.sample(calls, k=min(len(calls), 2)):
            self.api_call(method, api_path.replace("{id}", str(rng.randint(100, 999))))
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
            self.click(kind)
        if rng.random() < 0.5:
            self.emit(
                "ui.scroll",
                {"ui.action": "scroll", "ui.scroll.position": round(rng.uniform(0.2, 1.0), 2)},
                after_ms=int(rng.uniform(1500, 9000)),
            )
        if rng.random() < 0.01:
            self.client_error()

    def page_leave(self, entered: int) -> None:
        """Leave the page after a dwell time (median ~15 s)."""
        self.clock += int(self.rng.lognormvariate(9.6, 0.9))
        self.emit("page.leave", {"duration_ms": self.clock - entered})

    def click(self, kind: str) -> None:
        name, tree, component_type, element, text = self.rng.choice(COMPONENTS[kind])
        fields: Event = {
            "ui.action": "click",
            "ui.component.name": name,
            "ui.component.path": tree,
            "ui.component.type": component_type,
            "ui.element": element,
        }
        if text:
            fields["ui.element.text"] = text
        self.emit("ui.click", fields, after_ms=int(self.rng.uniform(800, 12000)))

    def api_call(self, method: str, path: str) -> None:
        rng = self.rng
        self.emit(
            "api.request", {"api.method": method, "api.path": path}, after_ms=rng.randint(5, 400)
        )
        roll = rng.random()
        if roll < 0.01:
            status = rng.choice((500, 502, 503, 504))
        elif roll < 0.04:
            status = rng.choice((400, 401, 404, 404, 409, 422, 429))
        elif method == "POST":
            status = 201
        else:
            status = 304 if roll > 0.9 else 200
        duration = int(rng.lognormvariate(4.6, 0.7)) * (8 if status >= 500 else 1)  # ~100 ms
        self.emit(
            "api.response",
            {
                "api.method": method,
                "api.path": path,
                "api.status_code": status,
                "api.duration_ms": duration,
            },
            after_ms=duration,
        )
        if status >= 500:
            self.emit(
                "error",
                {
                    "error.type": "ApiError",
                    "error.message": f"{method} {path} failed with {status}",
                    "error.component": "ApiClient",
                },
            )

    def client_error(self) -> None:
        error_type, message, component = self.rng.choice(CLIENT_ERRORS)
        self.emit(
            "error",
            {
                "error.type": error_type,
                "error.message": message,
                "error.component": component,
                "error.stack": (
                    f"{error_type}: {message}\n    at {component} (/static/js/main.js:1:4821)\n"
                    "    at renderWithHooks (/static/js/vendor.js:2:61432)"
                ),
            },
            after_ms=self.rng.randint(10, 3000),
        )

    def journey(self, key: str, steps: tuple[tuple[str, str, str, float], ...]) -> None:
        """Walk a journey's steps in order until the session drops off or converts."""
        rng = self.rng
        for index, (step_id, step_name, path, go_on) in enumerate(steps):
            entered = self.page_view(path, step_name)
            self.emit(
                "journey.step",
                {
                    "gen_ai.journey.id": key,
                    "gen_ai.journey.step.id": step_id,
                    "gen_ai.journey.step.name": step_name,
                },
                after_ms=rng.randint(50, 600),
            )
            if step_id == "cart":
                before = rng.randint(0, 2)
                self.emit(
                    "state.change",
                    {
                        "ui.state.key": "cart.items",
                        "ui.state.before": {"count": before},
                        "ui.state.after": {"count": before + 1},
                        "ui.state.change_type": "update",
                    },
                )
            self.page_activity()
            last = index == len(steps) - 1
            if last:
                self.emit(
                    "journey.conversion",
                    {
                        "gen_ai.journey.id": key,
                        "gen_ai.journey.step.id": step_id,
                        "gen_ai.journey.conversion.status": "converted",
                    },
                )
            going_on = not last and rng.random() < go_on
            if going_on:
                self.emit(
                    "ui.submit",
                    {
                        "ui.action": "submit",
                        "ui.component.name": "ContinueButton",
                        "ui.component.path": "App/Flow/Footer/ContinueButton",
                        "ui.component.type": "button",
                        "gen_ai.journey.id": key,
                        "gen_ai.journey.step.id": step_id,
                    },
                    after_ms=rng.randint(3000, 40000),
                )
            self.page_leave(entered)
            if not going_on:
                return


def _weighted(rng: random.Random, items: tuple[Any, ...], cumulative: list[float]) -> Any:
    return rng.choices(items, cum_weights=cumulative)[0]


def _hour_weight(hour: int) -> float:
    """Traffic by hour of day (UTC): quiet nights, a late-afternoon peak."""
    return (0.15, 0.1, 0.1, 0.1, 0.15, 0.25, 0.4, 0.6, 0.75, 0.85, 0.9, 0.95,
            1.0, 1.0, 0.95, 0.95, 1.0, 1.0, 0.95, 0.9, 0.8, 0.6, 0.4, 0.25)[hour]  # fmt: skip


_AGENTS = tuple(agent for agent, _, _ in USER_AGENTS)
_AGENT_WEIGHTS = list(accumulate(weight for _, _, weight in USER_AGENTS))
_VIEWPORTS = {agent: choices for agent, choices, _ in USER_AGENTS}
_REFERRERS = tuple(referrer for referrer, _ in REFERRERS)
_REFERRER_WEIGHTS = list(accumulate(weight for _, weight in REFERRERS))
_PAGES = tuple((path, title) for path, title, _, _ in BROWSE_PAGES)
_ENTRY_WEIGHTS = list(accumulate(weight for _, _, _, weight in BROWSE_PAGES))
_NEXT_WEIGHTS = list(accumulate(weight for _, _, weight, _ in BROWSE_PAGES))


def simulate_session(
    *, seed: int, index: int, sessions: int, now_ms: int, window_ms: int, project_id: str | None
) -> tuple[str, list[Event]]:
    """Return the User-Agent and the events of session number `index` of `sessions`.

    Each session draws from its own generator seeded by (`seed`, `index`), so a session is
    the same however the sessions are split between processes.
    """
    rng = random.Random(f"{seed}:{index}")  # noqa: S311 -- demo data: reproducible, not secret
    agent = _weighted(rng, _AGENTS, _AGENT_WEIGHTS)
    session_id = f"sess_{rng.getrandbits(64):016x}"
    common: Event = {
        "session.id": session_id,
        "ui.viewport": rng.choice(_VIEWPORTS[agent]),
        "user.anonymous_id": f"anon_{rng.getrandbits(48):012x}",
    }
    if rng.random() < 0.65:  # signed in: a returning user, about 2.6 sessions each
        common["user.id"] = f"user_{rng.randrange(max(1, sessions // 4)):06d}"
    if project_id is not None:
        common["project_id"] = project_id
    session = _Session(rng, session_id=session_id, common=common)

    path, title = _weighted(rng, _PAGES, _ENTRY_WEIGHTS)
    session.referrer = _weighted(rng, _REFERRERS, _REFERRER_WEIGHTS)
    session.page(path, title, first=True)
    pages = min(MAX_PAGES_PER_SESSION, int(rng.expovariate(1 / 3.0)))  # mean ~3 more pages
    journey_at = rng.randint(0, pages)
    roll = rng.random()
    for page_index in range(pages + 1):
        if page_index == journey_at:
            if roll < CHECKOUT_SHARE:
                session.journey(CHECKOUT_JOURNEY, CHECKOUT_STEPS)
            elif roll < CHECKOUT_SHARE + ONBOARDING_SHARE:
                session.journey(ONBOARDING_JOURNEY, ONBOARDING_STEPS)
        if page_index < pages:
            path, title = _weighted(rng, _PAGES, _NEXT_WEIGHTS)
            session.page(path, title)
    if rng.random() < 0.03:
        session.emit(
            "custom",
            {"event.name": "newsletter_subscribed", "metadata": {"source": "footer"}},
            after_ms=rng.randint(1000, 20000),
        )

    # Place the whole session inside the window, more likely by day than by night.
    duration = session.clock
    latest = now_ms - duration
    span = max(window_ms - duration, 1)
    start = latest - rng.randrange(span)
    for _attempt in range(3):
        if rng.random() < _hour_weight(start // 3_600_000 % 24):
            break
        start = latest - rng.randrange(span)
    for event, offset in zip(session.events, session.offsets, strict=True):
        event["event.timestamp"] = _iso(start + offset)
    return agent, session.events


def generate_batches(
    *,
    sessions: int,
    days: int,
    seed: int,
    now: datetime,
    project_id: str | None = None,
    max_events: int = 1000,
    shard: int = 0,
    shards: int = 1,
) -> Iterator[Batch]:
    """Yield simulated sessions over the `days` before `now`, in batches.

    Every timestamp lies in [now - days, now]. Batches hold at most `max_events` events,
    all with one User-Agent; `project_id`, when given, is sent on every event as the
    reference SDK does. With `shards` > 1 this yields only the sessions whose number is
    `shard` modulo `shards`: the shards together are exactly the unsharded sessions.
    """
    if sessions < 0 or days < 1 or max_events < 1 or not 0 <= shard < shards:
        raise ValueError("sessions must be >= 0, days and max_events >= 1, 0 <= shard < shards")
    now_ms = int(now.timestamp() * 1000)
    buckets: dict[str, list[Event]] = {agent: [] for agent in _AGENTS}
    counts: dict[str, int] = dict.fromkeys(_AGENTS, 0)
    for index in range(shard, sessions, shards):
        agent, events = simulate_session(
            seed=seed,
            index=index,
            sessions=sessions,
            now_ms=now_ms,
            window_ms=days * _DAY_MS,
            project_id=project_id,
        )
        bucket = buckets[agent]
        if bucket and len(bucket) + len(events) > max_events:
            yield Batch(user_agent=agent, events=bucket, sessions=counts[agent])
            bucket = buckets[agent] = []
            counts[agent] = 0
        bucket.extend(events)
        counts[agent] += 1
        while len(bucket) > max_events:  # only a session longer than a whole batch
            yield Batch(user_agent=agent, events=bucket[:max_events], sessions=0)
            bucket = buckets[agent] = bucket[max_events:]
    for agent in _AGENTS:
        if buckets[agent]:
            yield Batch(user_agent=agent, events=buckets[agent], sessions=counts[agent])
