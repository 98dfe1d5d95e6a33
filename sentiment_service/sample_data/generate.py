"""Deterministic generator for the bundled sample accounts, messages, metrics and outcomes."""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sentiment_service.sample_data import fragments as F

START = date(2026, 5, 1)
END = date(2026, 10, 31)
SPAN_DAYS = (END - START).days + 1
END_TS = datetime(2026, 10, 31, 23, 59, 0)
OUTAGE_DAY = date(2026, 7, 14)
PERF_DAYS = (date(2026, 9, 21), date(2026, 9, 25))
PRICE_DAYS = (date(2026, 8, 3), date(2026, 9, 30))
FIRST_WEEK = date(2026, 4, 27)
WEEKS = 27
SENTIMENTS = ("negative", "neutral", "positive")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SOURCE_SYSTEM = {
    "ticket": "zendesk",
    "chat": "intercom",
    "survey": "delighted",
    "social": "x",
    "csm_note": "hubspot",
}
PAGES = ("/dashboards", "/inbox", "/settings/billing", "/reports", "/accounts", "/integrations")
SEGMENT_WEIGHT = {"enterprise": 1.6, "mid-market": 1.0, "smb": 0.55}

# name, industry, segment, locale, trajectory, outcome, competitor the account flirts with
ACCOUNT_TABLE: tuple[tuple[str, str, str, str | None, str, str, str | None], ...] = (
    ("Harbourline Freight", "logistics", "enterprise", None, "stable", "renewed", None),
    ("Cobalt Ridge Health", "healthcare", "enterprise", None, "churning", "churned", "Quorvo"),
    ("Kestrel Ledger", "fintech", "mid-market", None, "expanding", "expanded", None),
    ("Plumtree Outfitters", "retail", "smb", None, "stable", "renewed", None),
    (
        "Aldermoor Academy Trust",
        "education",
        "mid-market",
        None,
        "declining",
        "renewed",
        "Tallymark",
    ),
    ("Ironvale Haulage", "logistics", "mid-market", None, "incident", "renewed", None),
    ("Quillfeather Payments", "fintech", "enterprise", None, "expanding", "expanded", None),
    ("Brambleway Grocers", "retail", "mid-market", None, "churning", "churned", "Brightpath"),
    ("Elbtal Spedition GmbH", "logistics", "mid-market", "de", "incident", "renewed", None),
    ("Vireo Clinics", "healthcare", "smb", None, "stable", "churned", None),
    ("Juniper Lane Learning", "education", "smb", None, "expanding", "expanded", None),
    (
        "Granite Forge Components",
        "manufacturing",
        "enterprise",
        None,
        "declining",
        "renewed",
        "Brightpath",
    ),
    (
        "Tidewater Capital Systems",
        "fintech",
        "enterprise",
        None,
        "churning",
        "churned",
        "Tallymark",
    ),
    ("Copperkettle Home Goods", "retail", "smb", None, "stable", "renewed", None),
    (
        "Meadowsweet Care Group",
        "healthcare",
        "mid-market",
        None,
        "incident",
        "churned",
        "Brightpath",
    ),
    ("Maison Verdier Santé", "healthcare", "mid-market", "fr", "stable", "renewed", None),
    ("Saltmarsh Logistics", "logistics", "smb", None, "churning", "churned", "Tallymark"),
    ("Lanternfield School District", "education", "enterprise", None, "stable", "expanded", None),
    ("Wrenfield Plastics", "manufacturing", "mid-market", None, "churning", "renewed", "Quorvo"),
    ("Larkspur & Lane", "retail", "mid-market", None, "expanding", "expanded", None),
    ("Driftwood Hotel Collective", "hospitality", "mid-market", None, "declining", "renewed", None),
    ("Pennywhistle Lending", "fintech", "smb", None, "churning", "churned", "Quorvo"),
    ("Redkite Couriers", "logistics", "smb", None, "stable", "renewed", None),
    ("Owlcrest Online College", "education", "mid-market", None, "incident", "renewed", None),
    ("Azulejo Pagos", "fintech", "mid-market", "es", "stable", "renewed", None),
    ("Halvard Precision", "manufacturing", "smb", None, "declining", "renewed", None),
    ("Clearbrook Dental Partners", "healthcare", "smb", None, "churning", "churned", "Brightpath"),
    ("Moss & Marlow Apparel", "retail", "enterprise", None, "expanding", "expanded", None),
    ("Cindervale Resorts", "hospitality", "enterprise", None, "incident", "renewed", None),
    ("Saffron Street Kitchens", "hospitality", "smb", None, "stable", "renewed", None),
)

SOURCE_TOPIC_WEIGHTS: dict[str, dict[str, float]] = {
    "ticket": {
        "billing": 1.2,
        "outage": 0.8,
        "performance": 1.0,
        "bugs": 1.6,
        "feature_request": 0.8,
        "onboarding": 0.7,
        "support_experience": 0.5,
        "integrations": 1.2,
        "security": 0.6,
        "renewal": 0.4,
        "competitor": 0.15,
        "account_management": 0.3,
        "usability": 0.8,
        "reporting": 1.0,
        "praise": 0.3,
    },
    "chat": {
        "billing": 1.0,
        "outage": 0.6,
        "performance": 0.8,
        "bugs": 1.2,
        "feature_request": 1.0,
        "onboarding": 1.0,
        "support_experience": 0.6,
        "integrations": 0.8,
        "security": 0.4,
        "renewal": 0.3,
        "competitor": 0.15,
        "account_management": 0.3,
        "usability": 1.3,
        "reporting": 0.9,
        "praise": 0.5,
    },
    "survey": {
        "billing": 0.8,
        "outage": 0.5,
        "performance": 0.7,
        "bugs": 0.6,
        "feature_request": 0.8,
        "onboarding": 0.5,
        "support_experience": 1.2,
        "integrations": 0.5,
        "security": 0.2,
        "renewal": 0.3,
        "competitor": 0.3,
        "account_management": 0.6,
        "usability": 1.2,
        "reporting": 1.0,
        "praise": 1.5,
    },
    "social": {
        "billing": 0.6,
        "outage": 1.5,
        "performance": 1.0,
        "bugs": 0.6,
        "feature_request": 0.6,
        "onboarding": 0.2,
        "support_experience": 1.0,
        "integrations": 0.4,
        "security": 0.1,
        "renewal": 0.1,
        "competitor": 0.5,
        "account_management": 0.1,
        "usability": 0.6,
        "reporting": 0.5,
        "praise": 1.5,
    },
}


@dataclass
class Contact:
    """A person at a customer account."""

    first: str
    last: str
    title: str
    email: str


@dataclass
class Profile:
    """An account plus the hidden story the generator uses for it."""

    id: str
    name: str
    segment: str
    industry: str
    tier: str
    arr: float
    renewal: date
    owner: str
    external_ids: dict[str, str]
    locale: str | None
    trajectory: str
    outcome: str
    outcome_date: date
    outcome_note: str
    competitor: str | None
    contacts: list[Contact]
    seats: int
    extra_seats: int
    utc_offset: int
    offset: float
    phase: float
    incident_day: int
    incident_len: int
    recovery: float


@dataclass
class Msg:
    """One generated message with the generator's intended label (customer parts only)."""

    source: str
    account_id: str | None
    author_role: str
    text: str
    created_at: datetime
    thread_key: str | None = None
    language: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    topics: tuple[str, ...] = ()
    external_id: str = ""
    thread_id: str | None = None
    seq: int = 0
    opens_ticket: bool = False


def clamp(x: float, lo: float = 0.0, hi: float = 1.0) -> float:
    """Clamp x into [lo, hi]."""
    return max(lo, min(hi, x))


def iso(ts: datetime) -> str:
    """Format a naive UTC datetime as ISO-8601 with a Z suffix."""
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def rand_date(rng: random.Random, lo: date, hi: date) -> date:
    """Pick a uniform date in [lo, hi]."""
    return lo + timedelta(days=rng.randint(0, (hi - lo).days))


def poisson(rng: random.Random, lam: float) -> int:
    """Draw a Poisson variate with Knuth's method (fine for small rates)."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def weighted(rng: random.Random, weights: dict[str, float]) -> str:
    """Pick a key with probability proportional to its weight."""
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys], k=1)[0]


def lower_first(text: str) -> str:
    """Lower-case the first letter unless it starts a name, acronym or 'I'."""
    word = text.split(" ", 1)[0]
    if word in ("I", "I'm", "I've", F.BRAND) or word[:1].isdigit() or word[1:2].isupper():
        return text
    return text[:1].lower() + text[1:]


def upper_first(text: str) -> str:
    """Upper-case the first letter."""
    return text[:1].upper() + text[1:]


def slugify(name: str) -> str:
    """Make an e-mail domain label from a company name."""
    keep = "".join(c.lower() if c.isalnum() else " " for c in name)
    return "-".join(w for w in keep.split() if w not in ("gmbh",))[:24].strip("-")


def build_contacts(rng: random.Random, locale: str | None, domain: str) -> list[Contact]:
    """Invent three contacts for an account."""
    firsts, lasts = F.LOCAL_NAMES.get(locale or "", (F.FIRST_NAMES, F.LAST_NAMES))
    people: list[Contact] = []
    for title in rng.sample(F.TITLES, 3):
        first, last = rng.choice(firsts), rng.choice(lasts)
        email = f"{first.lower()}.{last.lower()}@{domain}"
        people.append(Contact(first, last, title, email))
    return people


def build_profiles(rng: random.Random) -> list[Profile]:
    """Build every account with its hidden trajectory and outcome."""
    profiles: list[Profile] = []
    used_zd: set[int] = set()
    for idx, (name, industry, segment, locale, traj, outcome, comp) in enumerate(
        ACCOUNT_TABLE, start=1
    ):
        lo, hi = {"enterprise": (250, 900), "mid-market": (60, 250), "smb": (12, 50)}[segment]
        seats = rng.randint(lo, hi)
        price = {
            "enterprise": rng.uniform(380, 560),
            "mid-market": rng.uniform(420, 640),
            "smb": rng.uniform(480, 760),
        }[segment]
        arr = float(round(seats * price, -2))
        tier = "gold" if arr >= 150_000 else "silver" if arr >= 40_000 else "bronze"
        renewal, outcome_date, note_key = pick_renewal(rng, traj, outcome)
        zd = rng.randint(40000, 49999)
        while zd in used_zd:
            zd = rng.randint(40000, 49999)
        used_zd.add(zd)
        ext = {
            "zendesk": f"org-{zd}",
            "intercom": f"comp_{rng.getrandbits(48):012x}",
            "hubspot": str(rng.randint(1_700_000_000, 1_799_999_999)),
        }
        domain = f"{slugify(name)}.example"
        extra = max(3, round(seats * rng.uniform(0.18, 0.4))) if outcome == "expanded" else 0
        comp_name = comp or rng.choice(sorted(F.COMPETITORS))
        note = rng.choice(F.OUTCOME_NOTES[note_key]).format(
            competitor=comp_name,
            seats=extra,
            module=rng.choice(F.MODULES),
            team=rng.choice(F.TEAMS),
        )
        offset = 1 if locale else rng.choice((0, -4, -5, -7))
        profiles.append(
            Profile(
                id=f"acct-{idx:03d}",
                name=name,
                segment=segment,
                industry=industry,
                tier=tier,
                arr=arr,
                renewal=renewal,
                owner=F.CSM_NAMES[(idx * 3) % len(F.CSM_NAMES)],
                external_ids=ext,
                locale=locale,
                trajectory=traj,
                outcome=outcome,
                outcome_date=outcome_date,
                outcome_note=note,
                competitor=comp,
                contacts=build_contacts(rng, locale, domain),
                seats=seats,
                extra_seats=extra,
                utc_offset=offset,
                offset=rng.uniform(-0.05, 0.05),
                phase=rng.uniform(0, 6.28),
                incident_day=rng.randint(35, 125),
                incident_len=rng.randint(14, 28),
                recovery=0.6 if outcome == "churned" else 1.0,
            )
        )
    return profiles


def pick_renewal(rng: random.Random, traj: str, outcome: str) -> tuple[date, date, str]:
    """Choose renewal date, outcome date and the outcome-note family."""
    if outcome == "churned":
        if traj == "churning":
            renewal = rand_date(rng, date(2026, 8, 24), date(2026, 11, 20))
            return renewal, renewal, "churned"
        renewal = rand_date(rng, date(2026, 9, 10), date(2026, 10, 25))
        return renewal, renewal, "churned_surprise" if traj == "stable" else "churned"
    if outcome == "expanded":
        renewal = rand_date(rng, date(2026, 8, 10), date(2026, 12, 31))
        when = max(date(2026, 8, 1), renewal - timedelta(days=rng.randint(0, 40)))
        return renewal, when, "expanded"
    risky = traj in ("declining", "churning")
    lo, hi = (
        (date(2026, 10, 1), date(2026, 12, 15)) if risky else (date(2026, 8, 1), date(2027, 1, 15))
    )
    renewal = rand_date(rng, lo, hi)
    when = max(date(2026, 8, 1), renewal - timedelta(days=rng.randint(0, 20)))
    return renewal, when, "renewed_risky" if risky else "renewed"


def active_until(p: Profile) -> date:
    """Last day an account produces data (churned accounts go quiet after churning)."""
    return min(END, p.outcome_date) if p.outcome == "churned" else END


def health(p: Profile, day: date) -> float:
    """Latent account health in [0, 1] on a given day."""
    t = (day - START).days
    frac = t / SPAN_DAYS
    if p.trajectory == "stable":
        h = 0.74 + 0.05 * math.sin(frac * 12.5 + p.phase)
    elif p.trajectory == "expanding":
        h = 0.66 + 0.28 * frac
    elif p.trajectory == "declining":
        h = 0.7 - 0.38 * frac
    elif p.trajectory == "churning":
        end = (p.outcome_date - START).days
        start = end - 110
        h = 0.72 if t < start else 0.72 - 0.62 * (t - start) / (end - start)
    else:
        base, since = 0.74, t - p.incident_day
        if since < 0:
            h = base
        elif since < p.incident_len:
            h = 0.2 + (base * p.recovery - 0.2) * since / p.incident_len
        else:
            h = base * p.recovery
    return clamp(h + p.offset + event_shift(day), 0.03, 0.97)


def event_shift(day: date) -> float:
    """Health shift every account feels from platform-wide events."""
    if day == OUTAGE_DAY:
        return -0.3
    if OUTAGE_DAY < day <= OUTAGE_DAY + timedelta(days=2):
        return -0.15
    if PERF_DAYS[0] <= day <= PERF_DAYS[1]:
        return -0.12
    if PRICE_DAYS[0] <= day <= PRICE_DAYS[1]:
        return -0.04
    return 0.0


def in_incident(p: Profile, day: date) -> bool:
    """Whether the account is inside its own incident window."""
    since = (day - START).days - p.incident_day
    return p.trajectory == "incident" and 0 <= since < p.incident_len


def pick_sentiment(rng: random.Random, h: float, source: str) -> str:
    """Draw the intended sentiment from health, skewed by how each channel is used."""
    neg, neu, pos = 0.05 + 1.1 * (1 - h) ** 1.6, 0.25, 0.05 + 0.9 * h**1.6
    skew = {
        "ticket": (1.5, 1.3, 0.45),
        "chat": (1.0, 1.5, 0.9),
        "survey": (1.0, 0.8, 1.0),
        "social": (1.2, 0.4, 1.0),
        "csm_note": (1.0, 1.0, 1.0),
    }[source]
    weights = {"negative": neg * skew[0], "neutral": neu * skew[1], "positive": pos * skew[2]}
    return weighted(rng, weights)


def topic_weights(source: str, sentiment: str, p: Profile | None, day: date) -> dict[str, float]:
    """Topic weights for one message given channel, sentiment, story and events."""
    w = dict(SOURCE_TOPIC_WEIGHTS[source])
    w = {k: v for k, v in w.items() if F.CORE[k][sentiment]}
    if day == OUTAGE_DAY and "outage" in w:
        w["outage"] *= 25
    if PERF_DAYS[0] <= day <= PERF_DAYS[1] and "performance" in w:
        w["performance"] *= 10
    if PRICE_DAYS[0] <= day <= PRICE_DAYS[1]:
        w["billing"] *= 3
    if p is None:
        return w
    frac = (day - START).days / SPAN_DAYS
    boosts: dict[str, float] = {}
    if p.trajectory == "churning" and frac > 0.3:
        boosts = {"competitor": 8, "renewal": 4, "billing": 1.5, "support_experience": 2}
    elif p.trajectory in ("expanding",) or p.outcome == "expanded":
        boosts = {"feature_request": 3, "praise": 2, "account_management": 1.5, "integrations": 1.5}
    elif p.trajectory == "declining":
        boosts = {"bugs": 1.5, "support_experience": 1.7, "usability": 1.5, "competitor": 3}
    if in_incident(p, day):
        boosts = {"outage": 6, "performance": 3, "support_experience": 2}
    for key, mult in boosts.items():
        if key in w:
            w[key] *= mult
    return w


def make_ctx(rng: random.Random, p: Profile | None, when: datetime) -> dict[str, str]:
    """Placeholder values for one message."""
    prev = when.date().replace(day=1) - timedelta(days=1)
    recent = OUTAGE_DAY if when.date() > OUTAGE_DAY else when.date() - timedelta(days=3)
    comp = (p.competitor if p and p.competitor else None) or rng.choice(sorted(F.COMPETITORS))
    contact = rng.choice(p.contacts) if p else Contact("Alex", "Doe", "Ops Lead", "")
    agent = rng.choice(F.AGENT_NAMES)
    return {
        "brand": F.BRAND,
        "month": MONTHS[prev.month - 1],
        "pct": str(rng.randint(8, 35)),
        "seats": str(rng.choice((20, 25, 40, 50, 75, 100, 150))),
        "invoice": f"INV-2026-{rng.randint(1000, 9999)}",
        "clock": rng.choice(("8am", "09:15 UTC", "lunchtime", "this morning", "2pm our time")),
        "nth": rng.choice(("second", "third", "fourth")),
        "hours": str(rng.randint(2, 9)),
        "recent": f"{MONTHS[recent.month - 1]} {recent.day}",
        "n": str(rng.randint(2, 9)),
        "feature": rng.choice(F.FEATURES),
        "integration": rng.choice(F.INTEGRATIONS),
        "report": rng.choice(F.REPORTS),
        "team": rng.choice(F.TEAMS),
        "module": rng.choice(F.MODULES),
        "competitor": rng.choice(F.COMPETITORS[comp]),
        "contact": f"{contact.first} {contact.last}",
        "title": contact.title,
        "cust_first": contact.first,
        "csm_first": (p.owner if p else "Priya").split()[0],
        "agent": agent,
        "agent_first": agent.split()[0],
        "days": str(rng.randint(3, 6)),
        "weekday": WEEKDAYS[rng.randint(0, 4)],
        "email": contact.email,
        "company": p.name if p else "",
        "phone": fake_phone(rng),
        "card": rng.choice(F.TEST_CARDS),
    }


def fake_phone(rng: random.Random) -> str:
    """A phone number from ranges reserved for fiction."""
    nn = rng.randint(100, 199)
    return rng.choice(
        (
            f"+1 ({rng.choice((415, 212, 312, 617))}) 555-0{nn}",
            f"+1 415 555 0{nn}",
            f"(646) 555-0{nn}",
            f"+44 20 7946 0{nn}",
            f"+44 (0)20 7946 0{nn}",
        )
    )


def fill(template: str, ctx: dict[str, str]) -> str:
    """Fill a fragment's placeholders."""
    return template.format_map(ctx)


def mixed(rng: random.Random, sentiment: str) -> tuple[str, tuple[str, ...]]:
    """Compose a mixed-aspect sentence whose final clause carries the label."""
    pos_topic = rng.choice(sorted(F.ASPECT_POS))
    neg_topic = rng.choice(sorted(t for t in F.ASPECT_NEG if t != pos_topic))
    pos, neg = rng.choice(F.ASPECT_POS[pos_topic]), rng.choice(F.ASPECT_NEG[neg_topic])
    frames = F.MIXED_NEGATIVE if sentiment == "negative" else F.MIXED_POSITIVE
    text = rng.choice(frames).format(pos=pos, Pos=upper_first(pos), neg=neg, Neg=upper_first(neg))
    first, second = (pos_topic, neg_topic) if sentiment == "negative" else (neg_topic, pos_topic)
    return text, (first, second)


def core_text(
    rng: random.Random,
    source: str,
    sentiment: str,
    p: Profile | None,
    day: date,
    ctx: dict[str, str],
) -> tuple[str, str, tuple[str, ...]]:
    """Pick the content of a customer message: (text, label, topics), hard cases included."""
    r = rng.random()
    sarcasm_p = {"social": 0.2, "chat": 0.08}.get(source, 0.05)
    if sentiment == "negative":
        if r < sarcasm_p:
            text, topics = rng.choice(F.SARCASM)
            return text, "negative", topics
        if r < sarcasm_p + 0.05:
            return negation(rng, "negative")
        if r < sarcasm_p + 0.14 and source != "social":
            text, topics = mixed(rng, "negative")
            return text, "negative", topics
    elif sentiment == "positive":
        if r < 0.07:
            return negation(rng, "positive")
        if r < 0.12 and source != "social":
            text, topics = mixed(rng, "positive")
            return text, "positive", topics
    topic = weighted(rng, topic_weights(source, sentiment, p, day))
    short = source in ("chat", "social") and rng.random() < 0.7
    pool = (
        F.SHORT[topic][sentiment]
        if short and F.SHORT[topic][sentiment]
        else (F.CORE[topic][sentiment])
    )
    text = fill(rng.choice(pool), ctx)
    if sentiment == "negative" and source == "ticket" and rng.random() < 0.15:
        text = f"{rng.choice(F.POLITE_LEADS)} {lower_first(text)}"
    return text, sentiment, (topic,)


def negation(rng: random.Random, sentiment: str) -> tuple[str, str, tuple[str, ...]]:
    """Pick a negation hard case of the wanted polarity."""
    text, label, topics = rng.choice([n for n in F.NEGATION if n[1] == sentiment])
    return text, label, topics


def foreign(rng: random.Random, p: Profile) -> tuple[str, str, tuple[str, ...]] | None:
    """Sometimes return a message in the account's own language."""
    if p.locale is None or rng.random() > 0.6:
        return None
    return rng.choice(F.FOREIGN[p.locale])


def pick_time(rng: random.Random, p: Profile | None, day: date) -> datetime:
    """A business-hours timestamp in the account's timezone, expressed in UTC."""
    hour = rng.choices(range(7, 20), weights=[1, 3, 5, 6, 6, 5, 4, 5, 5, 4, 3, 2, 1], k=1)[0]
    local = datetime(day.year, day.month, day.day, hour, rng.randint(0, 59))
    return local - timedelta(hours=p.utc_offset if p else 0)


def signature(rng: random.Random, c: Contact, ctx: dict[str, str]) -> str:
    """An e-mail signature; some carry phone numbers or addresses (PII)."""
    r = rng.random()
    if r < 0.25:
        return c.first
    if r < 0.55:
        return f"{c.first} {c.last}\n{c.title} | {ctx['company']}"
    if r < 0.78:
        return f"{c.first} {c.last}\n{c.title} | {ctx['company']} | {ctx['phone']}"
    if r < 0.92:
        return f"{c.first} {c.last}\n{c.title}, {ctx['company']}\n{c.email}"
    return f"{c.first} {c.last}\n{ctx['company']}\nSent from my phone"


def pii_line(rng: random.Random, topics: tuple[str, ...], ctx: dict[str, str]) -> str:
    """A sentence carrying an e-mail, phone number or test card number."""
    if "billing" in topics and rng.random() < 0.6:
        return fill(rng.choice(F.CARD_LINES), ctx)
    return fill(rng.choice(F.PII_LINES), ctx)


def quote_header(ts: datetime, author: str) -> str:
    """The 'On ... wrote:' line a mail client puts above quoted history."""
    hour12 = ts.hour % 12 or 12
    ampm = "AM" if ts.hour < 12 else "PM"
    return (
        f"On {WEEKDAYS[ts.weekday()][:3]}, {MONTHS[ts.month - 1][:3]} {ts.day}, {ts.year} "
        f"at {hour12}:{ts.minute:02d} {ampm} {author} <{F.SUPPORT_EMAIL}> wrote:"
    )


PRIORITIES: dict[str, tuple[str, ...]] = {
    "negative": ("high", "urgent", "normal", "high"),
    "neutral": ("low", "normal", "normal"),
    "positive": ("low", "normal"),
}
FOLLOWUP_STATUS = {"positive": "solved", "neutral": "pending", "negative": "open"}


def part(
    first: Msg,
    role: str,
    text: str,
    t: datetime,
    label: str | None = None,
    topics: tuple[str, ...] = (),
) -> Msg:
    """A later message in the same thread as first."""
    return Msg(
        first.source,
        first.account_id,
        role,
        text,
        t,
        first.thread_key,
        None,
        dict(first.metadata),
        label,
        topics,
    )


def opening_content(
    rng: random.Random,
    p: Profile,
    source: str,
    day: date,
    ctx: dict[str, str],
    forced: tuple[str, str] | None,
) -> tuple[str, str, tuple[str, ...], str | None]:
    """What opens a ticket or chat: (text, label, topics, language)."""
    if forced:
        sentiment, topic = forced
        pool = F.SHORT if source == "chat" else F.CORE
        return fill(rng.choice(pool[topic][sentiment]), ctx), sentiment, (topic,), None
    alt = foreign(rng, p)
    if alt:
        return alt[0], alt[1], alt[2], p.locale
    text, label, topics = core_text(
        rng, source, pick_sentiment(rng, health(p, day), source), p, day, ctx
    )
    return text, label, topics, None


def contact_named(p: Profile, full_name: str) -> Contact:
    """The account contact with this full name."""
    return next(c for c in p.contacts if f"{c.first} {c.last}" == full_name)


def ticket_thread(
    rng: random.Random, p: Profile, t0: datetime, forced: tuple[str, str] | None = None
) -> list[Msg]:
    """A support ticket: customer comment, maybe a bot receipt, agent replies, follow-ups."""
    ctx = make_ctx(rng, p, t0)
    contact = contact_named(p, ctx["contact"])
    email = rng.random() < 0.55
    text, label, topics, lang = opening_content(rng, p, "ticket", t0.date(), ctx, forced)
    if lang is None:
        text = ticket_body(rng, text, label, topics, ctx, contact, email)
    meta = {
        "subject": ticket_subject(rng, label, topics[0], ctx),
        "priority": rng.choice(PRIORITIES[label]),
        "channel": "email" if email else "web",
    }
    first = Msg(
        "ticket", p.id, "customer", text, t0, f"t:{p.id}:{iso(t0)}", lang, meta, label, topics
    )
    thread = [first]
    if email and rng.random() < 0.75:
        thread.append(part(first, "bot", F.BOT_TICKET, t0 + timedelta(minutes=1)))
    urgency = 0.5 if meta["priority"] == "urgent" else 1.0
    delay = rng.uniform(0.3, 6) * (1 + 3 * (1 - health(p, t0.date()))) * urgency
    t = t0 + timedelta(hours=delay, minutes=rng.randint(2, 50))
    thread.append(part(first, "agent", agent_reply(rng, topics[0], ctx), t))
    status = rng.choice(("solved", "pending"))
    if lang is None and rng.random() < 0.5:
        status = ticket_followup(rng, p, thread, ctx, contact, email)
    for m in thread:
        m.metadata["status"] = status
    return thread


def ticket_followup(
    rng: random.Random,
    p: Profile,
    thread: list[Msg],
    ctx: dict[str, str],
    contact: Contact,
    email: bool,
) -> str:
    """Append the customer's follow-up (and maybe an agent answer); return the ticket status."""
    first, agent = thread[0], thread[-1]
    t = agent.created_at + timedelta(hours=rng.uniform(1, 40))
    mood = pick_sentiment(rng, health(p, t.date()), "chat")
    reply = rng.choice(F.FOLLOWUPS[mood])
    if email:
        reply = followup_email(rng, reply, agent, ctx, contact, p.utc_offset)
    extra = ("support_experience",) if mood == "negative" else ()
    thread.append(
        part(first, "customer", reply, t, mood, tuple(dict.fromkeys(first.topics + extra)))
    )
    if rng.random() < (0.7 if mood == "negative" else 0.35):
        t += timedelta(hours=rng.uniform(0.5, 8))
        answer = rng.choice(F.AGENT_FOLLOWUP[mood])
        thread.append(
            part(first, "agent", f"Hi {contact.first},\n\n{answer}\n\nBest,\n{ctx['agent']}", t)
        )
    return FOLLOWUP_STATUS[mood]


def followup_email(
    rng: random.Random,
    reply: str,
    agent: Msg,
    ctx: dict[str, str],
    contact: Contact,
    utc_offset: int,
) -> str:
    """Frame a follow-up as an e-mail that quotes the agent's previous reply."""
    header = quote_header(agent.created_at + timedelta(hours=utc_offset), ctx["agent"])
    quoted = "\n".join(f"> {line}" if line else ">" for line in agent.text.split("\n"))
    closing = rng.choice(F.CLOSINGS)
    return (
        f"Hi {ctx['agent_first']},\n\n{reply}\n\n{closing}\n{contact.first}\n\n{header}\n{quoted}"
    )


def ticket_subject(rng: random.Random, label: str, topic: str, ctx: dict[str, str]) -> str:
    """A subject line that fits both the topic and the tone of the opening comment."""
    calm = label != "negative" and topic in F.CALM_SUBJECTS
    subject = fill(rng.choice((F.CALM_SUBJECTS if calm else F.SUBJECTS)[topic]), ctx)
    if label == "positive" and rng.random() < 0.5:
        return rng.choice(("Thank you!", "Quick note", "Feedback", f"Re: {subject}"))
    return subject


def ticket_body(
    rng: random.Random,
    text: str,
    label: str,
    topics: tuple[str, ...],
    ctx: dict[str, str],
    contact: Contact,
    email: bool,
) -> str:
    """Wrap the core of a ticket in intro, details, optional PII and an e-mail frame."""
    parts = [text]
    if rng.random() < 0.3 and label in F.DETAILS:
        extra = F.CORE[topics[0]].get(label, ())
        if extra:
            second = fill(rng.choice(extra), ctx)
            if second != text:
                parts.append(second)
    for detail in rng.sample(F.DETAILS[label], k=rng.choice((0, 1, 1, 2))):
        parts.append(fill(detail, ctx))
    intro = fill(rng.choice(F.INTROS), ctx) if email else ""
    paragraph = " ".join(([intro] if intro else []) + parts)
    if rng.random() < (0.25 if "billing" in topics else 0.08):
        paragraph += "\n\n" + pii_line(rng, topics, ctx)
    if not email:
        return paragraph
    greeting = fill(rng.choice(F.GREETINGS), ctx)
    return f"{greeting}\n\n{paragraph}\n\n{rng.choice(F.CLOSINGS)}\n{signature(rng, contact, ctx)}"


def agent_reply(rng: random.Random, topic: str, ctx: dict[str, str]) -> str:
    """A support agent's reply in a ticket."""
    opener = fill(rng.choice(F.AGENT_OPENERS), ctx)
    body = rng.choice(F.AGENT_BODIES[topic])
    closer = rng.choice(F.AGENT_CLOSERS)
    return f"{opener} {body}\n\n{closer}\n\nBest,\n{ctx['agent']}\n{F.BRAND} Support"


def chat_thread(
    rng: random.Random, p: Profile, t0: datetime, forced: tuple[str, str] | None = None
) -> list[Msg]:
    """A short in-app chat: customer parts, maybe a bot, an agent, and acknowledgements."""
    ctx = make_ctx(rng, p, t0)
    meta = {"channel": rng.choice(("messenger", "in_app", "in_app")), "page": rng.choice(PAGES)}
    text, label, topics, lang = opening_content(rng, p, "chat", t0.date(), ctx, forced)
    if lang is None:
        text = chat_style(rng, text, label)
    first = Msg(
        "chat", p.id, "customer", text, t0, f"c:{p.id}:{iso(t0)}", lang, meta, label, topics
    )
    out, t = [first], t0
    if rng.random() < 0.35:
        t += timedelta(minutes=1)
        out.append(part(first, "bot", F.BOT_CHAT, t))
    t += timedelta(minutes=rng.randint(2, 25))
    out.append(part(first, "agent", fill(rng.choice(F.AGENT_CHAT), ctx), t))
    if lang is None and rng.random() < 0.55:
        t += timedelta(minutes=rng.randint(1, 6))
        more, more_label, more_topics = chat_second_line(rng, label, topics, ctx)
        if more != text:
            out.append(
                part(
                    first, "customer", chat_style(rng, more, more_label), t, more_label, more_topics
                )
            )
    if rng.random() < 0.6:
        t += timedelta(minutes=rng.randint(2, 30))
        out.append(part(first, "agent", rng.choice(F.AGENT_CHAT_CLOSE), t))
        if rng.random() < 0.3:
            t += timedelta(minutes=rng.randint(1, 5))
            ack, ack_label, ack_topics = rng.choice(F.ACKS)
            out.append(part(first, "customer", ack, t, ack_label, ack_topics))
    if rng.random() < 0.2:
        t += timedelta(minutes=rng.randint(10, 60))
        out.append(part(first, "bot", F.BOT_CHAT_CLOSE, t))
    return out


def chat_second_line(
    rng: random.Random, label: str, topics: tuple[str, ...], ctx: dict[str, str]
) -> tuple[str, str, tuple[str, ...]]:
    """The customer's next chat line: more of the same, contact details, or an acknowledgement."""
    pool = F.SHORT[topics[0]].get(label, ()) if topics else ()
    if rng.random() < 0.45 and pool:
        return fill(rng.choice(pool), ctx), label, topics[:1]
    if rng.random() < 0.25:
        return pii_line(rng, topics, ctx), "neutral", topics[:1]
    return rng.choice(F.ACKS)


def chat_style(rng: random.Random, text: str, label: str) -> str:
    """Make a chat line informal: lower case, optional greeting, optional emoji."""
    if rng.random() < 0.6:
        text = lower_first(text)
        if text.endswith(".") and rng.random() < 0.5:
            text = text[:-1]
    opener = rng.choice(F.CHAT_OPENERS)
    if opener and rng.random() < 0.5:
        text = f"{opener} {text}" if rng.random() < 0.5 else f"{opener}, {text}"
    if rng.random() < 0.25 and text[-1:].isascii():
        text = f"{text} {rng.choice(F.EMOJI[label])}"
    return text


def survey_response(rng: random.Random, p: Profile, t0: datetime) -> Msg:
    """An NPS survey verbatim with a score roughly consistent with its text."""
    day = t0.date()
    ctx = make_ctx(rng, p, t0)
    lang = None
    alt = foreign(rng, p)
    if alt:
        text, label, topics = alt
        lang = p.locale
    else:
        label = pick_sentiment(rng, health(p, day), "survey")
        r = rng.random()
        if r < 0.3 or label == "neutral":
            text, topics = rng.choice(F.SURVEY_EXTRA[label])
        else:
            text, label, topics = core_text(rng, "survey", label, p, day, ctx)
            if r > 0.85 and label != "neutral":
                text = f"{text} {fill(rng.choice(F.DETAILS[label]), ctx)}"
    lo, hi = {"negative": (0, 6), "neutral": (6, 8), "positive": (8, 10)}[label]
    score = rng.randint(lo, hi) if rng.random() > 0.06 else rng.randint(0, 10)
    meta = {"score": score, "survey": "quarterly_nps", "respondent_role": ctx["title"]}
    return Msg("survey", p.id, "customer", text, t0, None, lang, meta, label, topics)


def social_post(rng: random.Random, p: Profile | None, t0: datetime) -> list[Msg]:
    """A tweet-like mention of the brand, sometimes with a reply from the brand account."""
    day = t0.date()
    ctx = make_ctx(rng, p, t0)
    h = health(p, day) if p else clamp(0.68 + event_shift(day))
    label = pick_sentiment(rng, h, "social")
    text, label, topics = core_text(rng, "social", label, p, day, ctx)
    tags = " ".join(rng.sample(F.HASHTAGS[label], k=rng.randint(0, 2)))
    frame = rng.choice(F.SOCIAL_FRAMES)
    body = lower_first(text) if rng.random() < 0.5 else text
    post = frame.format(
        text=body,
        Text=upper_first(body),
        brand=F.BRAND,
        tags=tags,
        emoji=rng.choice(F.EMOJI[label]),
    ).strip()
    if p:
        c = rng.choice(p.contacts)
        handle = f"@{c.first.lower()}{c.last[:1].lower()}_{rng.choice(('ops', 'cx', 'hq'))}"
    else:
        a, b = F.HANDLE_PARTS
        handle = f"@{rng.choice(a)}{rng.choice(b)}{rng.choice(('', '', str(rng.randint(1, 99))))}"
    meta = {"handle": handle, "likes": rng.randint(0, 40), "reposts": rng.randint(0, 8)}
    key = f"s:{handle}:{iso(t0)}"
    out = [
        Msg(
            "social",
            p.id if p else None,
            "customer",
            " ".join(post.split()),
            t0,
            key,
            None,
            meta,
            label,
            topics,
        )
    ]
    if label != "neutral" and rng.random() < 0.3:
        reply = F.AGENT_SOCIAL[2] if label == "positive" else rng.choice(F.AGENT_SOCIAL[:2])
        out.append(
            Msg(
                "social",
                out[0].account_id,
                "agent",
                f"{handle} {reply}",
                t0 + timedelta(minutes=rng.randint(5, 90)),
                key,
                metadata={"handle": f"@{F.BRAND}", "likes": rng.randint(0, 5), "reposts": 0},
            )
        )
    else:
        out[0].thread_key = None
    return out


def csm_note(rng: random.Random, p: Profile, t0: datetime) -> Msg:
    """A third-person note by the account's CSM, keyed to the account's health."""
    day = t0.date()
    ctx = make_ctx(rng, p, t0)
    label = pick_sentiment(rng, health(p, day), "csm_note")
    notes = F.CSM_NOTES[label]
    focus = {
        "churning": ("competitor", "renewal"),
        "declining": ("support_experience",),
        "expanding": ("feature_request",),
    }.get(p.trajectory, ())
    weights = [3.0 if set(topics) & set(focus) else 1.0 for _, topics in notes]
    text, topics = rng.choices(notes, weights=weights, k=1)[0]
    prefix = rng.choice(F.CSM_PREFIXES)
    kind = "qbr" if "QBR" in prefix + text else rng.choice(("call", "meeting", "email", "call"))
    meta = {"owner": p.owner, "note_type": kind}
    return Msg(
        "csm_note", p.id, "csm", prefix + fill(text, ctx), t0, None, None, meta, label, topics
    )


def business_day_weight(day: date) -> float:
    """Weekends are quiet for work channels."""
    return 0.25 if day.weekday() >= 5 else 1.0


def account_messages(rng: random.Random, p: Profile) -> list[Msg]:
    """Every message one account produces over the period."""
    msgs: list[Msg] = []
    seg = SEGMENT_WEIGHT[p.segment]
    last = active_until(p)
    day = START
    while day <= last:
        h, bw = health(p, day), business_day_weight(day)
        rates = {
            "ticket": seg * (0.12 + 0.5 * (1 - h)) * bw / 5,
            "chat": seg * (0.15 + 0.1 * (p.trajectory == "expanding")) * bw / 5,
            "csm_note": seg**0.5 * (0.1 + 0.25 * (1 - h)) * bw / 5,
            "social": seg * 0.035 / 7,
        }
        for source, lam in rates.items():
            for _ in range(poisson(rng, lam)):
                t0 = pick_time(rng, p, day)
                if source == "ticket":
                    msgs += ticket_thread(rng, p, t0)
                elif source == "chat":
                    msgs += chat_thread(rng, p, t0)
                elif source == "csm_note":
                    msgs.append(csm_note(rng, p, t0))
                else:
                    msgs += social_post(rng, p, t0)
        day += timedelta(days=1)
    msgs += survey_waves(rng, p, last)
    msgs += event_messages(rng, p, last)
    return [m for m in msgs if m.created_at <= min(END_TS, day_end(last))]


def day_end(day: date) -> datetime:
    """The last minute of a day."""
    return datetime(day.year, day.month, day.day, 23, 59)


def survey_waves(rng: random.Random, p: Profile, last: date) -> list[Msg]:
    """Monthly NPS waves; responses trickle in over the following days."""
    out: list[Msg] = []
    for month in range(5, 11):
        sent = date(2026, month, 2)
        for _ in range(poisson(rng, SEGMENT_WEIGHT[p.segment] * 1.3)):
            day = sent + timedelta(days=min(int(rng.expovariate(0.35)), 20))
            if day <= last:
                out.append(survey_response(rng, p, pick_time(rng, p, day)))
    return out


def event_messages(rng: random.Random, p: Profile, last: date) -> list[Msg]:
    """Extra tickets and chats caused by the platform-wide outage and slowdown."""
    out: list[Msg] = []
    if last >= OUTAGE_DAY:
        if rng.random() < 0.55:
            t0 = datetime(2026, 7, 14, 13, 25) + timedelta(minutes=rng.randint(0, 240))
            out += ticket_thread(rng, p, t0, ("negative", "outage"))
        if rng.random() < 0.35:
            t0 = datetime(2026, 7, 14, 13, 22) + timedelta(minutes=rng.randint(0, 200))
            out += chat_thread(rng, p, t0, ("negative", "outage"))
    if PERF_DAYS[0] <= last and rng.random() < 0.3:
        day = rand_date(rng, *PERF_DAYS)
        out += ticket_thread(rng, p, pick_time(rng, p, day), ("negative", "performance"))
    return out


def brand_social(rng: random.Random) -> list[Msg]:
    """Brand-level social mentions with no known account, spiking on incident days."""
    out: list[Msg] = []
    day = START
    while day <= END:
        lam = (
            0.3
            + (22 if day == OUTAGE_DAY else 0)
            + (1.5 if PERF_DAYS[0] <= day <= PERF_DAYS[1] else 0)
        )
        for _ in range(poisson(rng, lam)):
            if day == OUTAGE_DAY:
                t0 = datetime(2026, 7, 14, 13, 30) + timedelta(minutes=rng.randint(0, 400))
            else:
                t0 = datetime(day.year, day.month, day.day, rng.randint(0, 23), rng.randint(0, 59))
            out += social_post(rng, None, t0)
        day += timedelta(days=1)
    return out


def assign_ids(rng: random.Random, msgs: list[Msg]) -> list[Msg]:
    """Sort by time and hand out per-system ids and thread ids in chronological order."""
    for i, m in enumerate(msgs):
        m.seq = i
    for m in msgs:
        m.created_at = m.created_at.replace(second=0, microsecond=0)
    msgs.sort(key=lambda m: (m.created_at, SOURCE_SYSTEM[m.source], m.seq))
    counters = {
        "zendesk": 9_100_000_000,
        "intercom": 24_000_000_000,
        "delighted": 51_200_000,
        "hubspot": 61_000_000_000,
    }
    threads: dict[str, str] = {}
    ticket_no, conv_no = 40_211, 1_880_400
    for m in msgs:
        system = SOURCE_SYSTEM[m.source]
        if system == "x":
            ms = int((m.created_at - datetime(1970, 1, 1)).total_seconds() * 1000)
            m.external_id = str(((ms - 1_288_834_974_657) << 22) + rng.getrandbits(22))
        else:
            counters[system] += rng.randint(1, 97)
            m.external_id = str(counters[system])
        if m.thread_key is None:
            continue
        if m.thread_key not in threads:
            if m.source == "ticket":
                ticket_no += rng.randint(1, 30)
                threads[m.thread_key] = f"ticket-{ticket_no}"
            elif m.source == "chat":
                conv_no += rng.randint(1, 60)
                threads[m.thread_key] = f"conv-{conv_no}"
            else:
                threads[m.thread_key] = f"x-{m.external_id}"
        m.thread_id = threads[m.thread_key]
        if m.source == "ticket":
            m.metadata = {"ticket_id": int(m.thread_id.split("-")[1]), **m.metadata}
    return msgs


def message_record(m: Msg) -> dict[str, Any]:
    """The public JSON shape of a message."""
    return {
        "source": m.source,
        "source_system": SOURCE_SYSTEM[m.source],
        "external_id": m.external_id,
        "account_id": m.account_id,
        "author_role": m.author_role,
        "text": m.text,
        "created_at": iso(m.created_at),
        "thread_id": m.thread_id,
        "language": m.language,
        "metadata": m.metadata,
    }


def account_record(p: Profile) -> dict[str, Any]:
    """The public JSON shape of an account."""
    return {
        "id": p.id,
        "name": p.name,
        "segment": p.segment,
        "industry": p.industry,
        "tier": p.tier,
        "arr": p.arr,
        "renewal_date": p.renewal.isoformat(),
        "owner": p.owner,
        "external_ids": p.external_ids,
    }


def build_metrics(
    rng: random.Random, profiles: Sequence[Profile], msgs: Sequence[Msg]
) -> list[tuple[str, str, int, str, str]]:
    """Weekly usage, support and billing observations for each account."""
    tickets: dict[tuple[str, int], int] = {}
    nps: dict[tuple[str, int], int] = {}
    for m in msgs:
        week = (m.created_at.date() - FIRST_WEEK).days // 7
        if m.source == "ticket" and m.author_role == "customer" and m.opens_ticket:
            tickets[(m.account_id or "", week)] = tickets.get((m.account_id or "", week), 0) + 1
        if m.source == "survey" and m.account_id:
            nps[(m.account_id, week)] = m.metadata["score"]
    rows: list[tuple[str, str, int, str, str]] = []
    for p in profiles:
        overdue, last = 0, active_until(p)
        for week in range(WEEKS):
            start = FIRST_WEEK + timedelta(days=7 * week)
            if start > last:
                break
            observed = iso(datetime.combine(start + timedelta(days=7), datetime.min.time()))
            mid = max(START, min(start + timedelta(days=3), END))
            h = health(p, mid)
            purchased = p.seats + (
                p.extra_seats if p.outcome == "expanded" and start >= p.outcome_date else 0
            )
            util = clamp(0.5 + 0.45 * h + rng.gauss(0, 0.015), 0.05, 1.2)
            if p.trajectory == "expanding" or p.outcome == "expanded":
                util = clamp(0.78 + 0.27 * (week / WEEKS) + rng.gauss(0, 0.012), 0.05, 1.08)
            used = (
                round(p.seats * util)
                if purchased == p.seats
                else round(purchased * clamp(util - 0.18, 0.5, 1.0))
            )
            logins = round(used * (0.3 + 0.6 * h) * rng.uniform(0.92, 1.06))
            if start <= OUTAGE_DAY < start + timedelta(days=7):
                logins = round(logins * 0.85)
            overdue = step_overdue(rng, overdue, h)
            values = {
                "logins": logins,
                "seats_used": used,
                "seats_purchased": purchased,
                "tickets_opened": tickets.get((p.id, week), 0),
            }
            if (p.id, week) in nps:
                values["nps"] = nps[(p.id, week)]
            values["invoices_overdue"] = overdue
            for name, value in values.items():
                rows.append((p.id, name, value, observed, metric_source(name)))
    return rows


def step_overdue(rng: random.Random, overdue: int, h: float) -> int:
    """Random walk of overdue invoices, worse for unhealthy accounts."""
    if rng.random() < 0.015 + 0.2 * (1 - h) ** 3:
        overdue = min(overdue + 1, 3)
    elif overdue and rng.random() < 0.2 + 0.5 * h:
        overdue -= 1
    return overdue


def metric_source(name: str) -> str:
    """Which system a metric comes from."""
    return {
        "logins": "product_analytics",
        "seats_used": "product_analytics",
        "seats_purchased": "billing",
        "invoices_overdue": "billing",
        "tickets_opened": "zendesk",
        "nps": "delighted",
    }[name]


def write_outputs(
    out: Path,
    profiles: Sequence[Profile],
    msgs: Sequence[Msg],
    metrics: Sequence[tuple[str, str, int, str, str]],
    labelled: Sequence[Msg],
) -> None:
    """Write the five sample files."""
    out.mkdir(parents=True, exist_ok=True)
    accounts = [account_record(p) for p in profiles]
    (out / "accounts.json").write_text(
        json.dumps(accounts, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    with (out / "messages.jsonl").open("w", encoding="utf-8", newline="\n") as fh:
        for m in msgs:
            fh.write(json.dumps(message_record(m), ensure_ascii=False) + "\n")
    write_csv(
        out / "metrics.csv", ("account_id", "name", "value", "observed_at", "source"), metrics
    )
    write_csv(
        out / "outcomes.csv",
        ("account_id", "outcome", "occurred_on", "notes"),
        [(p.id, p.outcome, p.outcome_date.isoformat(), p.outcome_note) for p in profiles],
    )
    write_csv(
        out / "labelled_messages.csv",
        ("text", "label", "source", "topics"),
        [(m.text, m.label, m.source, ";".join(m.topics)) for m in labelled],
    )


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Write a UTF-8 CSV with Unix line endings."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def generate(out: Path, seed: int = 7, n_labelled: int = 300) -> dict[str, int]:
    """Generate every sample file into out and return simple counts."""
    rng = random.Random(seed)
    profiles = build_profiles(rng)
    msgs: list[Msg] = []
    for p in profiles:
        msgs += account_messages(rng, p)
    msgs += brand_social(rng)
    msgs = assign_ids(rng, [m for m in msgs if m.created_at <= END_TS])
    mark_first_comments(msgs)
    metrics = build_metrics(rng, profiles, msgs)
    customer = unique_customer_messages(msgs)
    picks = sorted(rng.sample(range(len(customer)), k=min(n_labelled, len(customer))))
    write_outputs(out, profiles, msgs, metrics, [customer[i] for i in picks])
    return {
        "accounts": len(profiles),
        "messages": len(msgs),
        "metrics": len(metrics),
        "labelled": len(picks),
    }


def unique_customer_messages(msgs: Sequence[Msg]) -> list[Msg]:
    """Customer-authored messages in time order, keeping the first copy of repeated texts."""
    seen: set[str] = set()
    out: list[Msg] = []
    for m in msgs:
        if m.author_role == "customer" and m.label and m.text not in seen:
            seen.add(m.text)
            out.append(m)
    return out


def mark_first_comments(msgs: Sequence[Msg]) -> None:
    """Flag the comment that opened each ticket (used to count tickets per week)."""
    seen: set[str] = set()
    for m in msgs:
        m.opens_ticket = m.source == "ticket" and m.thread_id not in seen
        if m.thread_id:
            seen.add(m.thread_id)


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    counts = generate(args.out, args.seed)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
