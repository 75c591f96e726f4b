"""The reason-code catalogue: stable codes and the sentences a loan officer reads aloud.

Like the adverse-action reason lists lenders use, every reason has a stable ``code`` (what a
system stores and counts), a sentence for the **applicant** and a detail line for the
**analyst**:

* the applicant's sentence states facts from the export about the applicant's own trade (its
  sales, purchases, rates, history), with amounts in the deployment's currency; it never names
  another business and never mentions another business's credit events;
* the analyst's detail adds what the applicant may not see: the counterparties behind a
  counterparty reason, their share of the trade and what is wrong with each, and how much the
  reason adds to the model's log-odds.

Reasons are the model's own attributions (TreeSHAP, Integrated Gradients; see
:mod:`gnn.reasons`) summed into *units*: a **topic** of the business itself (``("self",
topic)``) or a **concern** about its counterparties in one relation (``("buyers", concern)``,
``suppliers``, ``shared`` identifiers, ``network`` two steps away). A feature belongs to
exactly one topic (:func:`topic_of`) and every topic to one concern (:data:`CONCERN_OF`), so
the same feature read on a neighbour (GraphSAGE) or averaged over counterparties (trees) lands
in the same concern.

No sentence compares with a "typical" value: each states the business's own figure.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: Topics of a business's own behaviour, each with the feature columns that belong to it.
TOPIC_PATTERNS: tuple[tuple[str, str], ...] = (
    ("sales_volume", r"seller_(orders|gmv)_\d+d"),
    ("sales_trend", r"seller_gmv_growth"),
    ("purchase_volume", r"buyer_(orders|gmv)_\d+d"),
    ("purchase_trend", r"buyer_gmv_growth"),
    ("refunds", r"seller_refund_rate"),
    ("sales_disputes", r"seller_dispute_rate"),
    ("sales_cancellations", r"seller_cancel_rate"),
    ("purchase_disputes", r"buyer_(dispute|refund)_rate"),
    ("purchase_cancellations", r"buyer_cancel_rate"),
    ("customer_concentration", r"seller_(counterparties|hhi|top_share)"),
    ("supplier_concentration", r"buyer_(counterparties|hhi|top_share)"),
    ("sales_recency", r"seller_(gap_cv|days_since_last)"),
    ("purchase_recency", r"buyer_(gap_cv|days_since_last)"),
    ("tenure", r"tenure_days|is_thin_file"),
    ("profile", r"is_enterprise|is_consumer|log_employees|log_declared_revenue|declared_missing"),
    ("sales_vs_declared", r"sales_to_declared"),
    ("activity", r"activity_to_size|silent|distress|max_distress|share_distressed.*|share_silent"),
    ("shared_identifiers", r"shared_id_businesses|shared_id_types|max_identifier_degree"),
    ("credit_history", r"known_(default|fraud)_365d|share_defaulted_\d+d"),
)
#: What a topic means when it is a counterparty's: the concern a counterparty reason states.
CONCERN_OF: dict[str, str] = {
    "sales_volume": "trade",
    "sales_trend": "trade",
    "purchase_volume": "trade",
    "purchase_trend": "trade",
    "customer_concentration": "trade",
    "supplier_concentration": "trade",
    "refunds": "disputes",
    "sales_disputes": "disputes",
    "sales_cancellations": "disputes",
    "purchase_disputes": "disputes",
    "purchase_cancellations": "disputes",
    "sales_recency": "strain",
    "purchase_recency": "strain",
    "activity": "strain",
    "credit_history": "credit",
    "tenure": "young",
    "profile": "profile",
    "sales_vs_declared": "profile",
    "shared_identifiers": "profile",
    "other": "profile",
}
TOPICS: tuple[str, ...] = (*(name for name, _ in TOPIC_PATTERNS), "other")
CONCERNS: tuple[str, ...] = ("trade", "disputes", "strain", "credit", "young", "profile")
RELATIONS: tuple[str, ...] = ("buyers", "suppliers", "shared", "network")
_COUNTERPARTY = re.compile(r"^(buyers|suppliers)_(?:wmean_)?(.+)$")


@lru_cache(maxsize=4096)
def topic_of(feature: str) -> str:
    """The topic of a feature, own or counterparty aggregate (``other`` when none fits)."""
    for name, pattern in TOPIC_PATTERNS:
        if re.fullmatch(pattern, feature):
            return name
    return "other"


@lru_cache(maxsize=4096)
def unit_of(feature: str, relation: str = "self") -> tuple[str, str]:
    """The unit a feature's attribution counts toward. On the business itself
    (``relation="self"``): ``("self", topic)`` for an own feature, ``(side, concern)`` for a
    counterparty aggregate (``buyers_*``/``suppliers_*``). On a neighbour in ``relation``:
    ``(relation, concern)`` whatever the feature (the neighbour's own aggregates included)."""
    match = _COUNTERPARTY.match(feature)
    if relation == "self":
        if match:
            return match.group(1), CONCERN_OF[topic_of(match.group(2))]
        return "self", topic_of(feature)
    return relation, CONCERN_OF[topic_of(match.group(2) if match else feature)]


#: Every unit, in a fixed order (the columns of a contribution matrix).
UNITS: tuple[tuple[str, str], ...] = (
    *(("self", topic) for topic in TOPICS),
    *((relation, concern) for relation in RELATIONS for concern in CONCERNS),
)
UNIT_INDEX: dict[tuple[str, str], int] = {unit: i for i, unit in enumerate(UNITS)}


def code_of(unit: tuple[str, str]) -> str:
    """The stable reason code of a unit, e.g. ``SALES_TREND`` or ``BUYERS_STRAIN``."""
    relation, name = unit
    return name.upper() if relation == "self" else f"{relation}_{name}".upper()


# --- sentences --------------------------------------------------------------------------------

Value = Callable[[str], float]


def _exp(x: float) -> float:
    """``e**x`` for one value, ``inf`` past float64's range and NaN for NaN, as numpy gives,
    without its per-call overhead (sentences are written one business at a time)."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _expm1(x: float) -> float:
    """``e**x - 1``, accurate near 0; overflow and NaN as :func:`_exp`."""
    try:
        return math.expm1(x)
    except OverflowError:
        return math.inf


def money(log1p_amount: float, currency: str) -> str:
    """An amount stored as ``log1p`` (the features' scale), with its currency."""
    return f"{_expm1(max(log1p_amount, 0.0)):,.0f} {currency}"


def percent(share: float) -> str:
    """A share of trade as a whole percentage; a share too small to round to 1% reads "<1%",
    never "0%" (the business does trade with that counterparty)."""
    if 0.0 < share < 0.005:
        return "<1%"
    return f"{share:.0%}"


def _count(value: float, noun: str, plural: str = "") -> str:
    """``value`` rounded, with ``noun`` in its number: "1 day", "41 days", "1 other business"
    (``plural``: the plural when it is not ``noun + "s"``)."""
    return f"{value:,.0f} {noun if round(value) == 1 else plural or noun + 's'}"


def _change(log_ratio: float) -> tuple[str, str]:
    """``("fell", "35%")`` / ``("rose", "120%")`` from a log ratio."""
    change = _expm1(log_ratio)
    return ("fell" if change < 0 else "rose"), f"{abs(change):.0%}"


def _trend(what: str, growth: float, recent_orders: float) -> str:
    if recent_orders <= 0:
        return f"No {what.lower()} in the last 90 days"
    verb, amount = _change(growth)
    return f"{what} {verb} by {amount} in the last 90 days against the 90 days before"


def _recency(what: str, days: float, cap: float = 730.0) -> str:
    if days >= cap:
        return f"No {what} on record"
    return f"Last {what} {_count(days, 'day')} ago"


def _activity(v: Value, currency: str) -> str:
    if v("silent") > 0:
        since = min(v("seller_days_since_last"), v("buyer_days_since_last"))
        return f"No orders for {_count(since, 'day')} after trading regularly"
    sales = money(v("seller_gmv_365d"), currency)
    purchases = money(v("buyer_gmv_365d"), currency)
    return (
        f"Trade in the last 12 months is small for its declared size: sales of {sales} and "
        f"purchases of {purchases}"
    )


def _profile(v: Value, currency: str) -> str:
    if v("declared_missing") > 0 and v("log_employees") <= 0 and v("log_declared_revenue") <= 0:
        return "No declared headcount or annual revenue"
    parts = []
    if v("log_employees") > 0:
        parts.append(_count(_expm1(v("log_employees")), "employee"))
    if v("log_declared_revenue") > 0:
        parts.append(f"annual revenue {money(v('log_declared_revenue'), currency)}")
    return "Declared size: " + ", ".join(parts)


def _credit(v: Value) -> str:
    if v("known_fraud_365d") > 0:
        return "Fraud confirmed on its own account in the last 12 months"
    return "A default on its own credit in the last 12 months"


def _tenure(days: float) -> str:
    if days < 365:
        return f"Short trading history: {_count(days, 'day')} on the marketplace"
    return f"Time on the marketplace: {days / 365.25:.1f} years"


#: Applicant sentences for the business's own topics: ``(value, currency) -> sentence``.
SELF_SENTENCES: dict[str, Callable[[Value, str], str]] = {
    "sales_volume": lambda v, c: (
        "No sales in the last 12 months"
        if v("seller_orders_365d") <= 0
        else f"Sales of {money(v('seller_gmv_365d'), c)} in the last 12 months "
        f"({_count(v('seller_orders_365d'), 'order')})"
    ),
    "sales_trend": lambda v, c: _trend("Sales", v("seller_gmv_growth"), v("seller_orders_90d")),
    "purchase_volume": lambda v, c: (
        "No purchases in the last 12 months"
        if v("buyer_orders_365d") <= 0
        else f"Purchases of {money(v('buyer_gmv_365d'), c)} in the last 12 months "
        f"({_count(v('buyer_orders_365d'), 'order')})"
    ),
    "purchase_trend": lambda v, c: _trend(
        "Purchases", v("buyer_gmv_growth"), v("buyer_orders_90d")
    ),
    "refunds": lambda v, c: (
        f"Refunds on {v('seller_refund_rate'):.1%} of its sales in the last 12 months"
    ),
    "sales_disputes": lambda v, c: (
        f"Buyers disputed {v('seller_dispute_rate'):.1%} of its sales in the last 12 months"
    ),
    "sales_cancellations": lambda v, c: (
        f"Cancellations on {v('seller_cancel_rate'):.1%} of its sales in the last 12 months"
    ),
    "purchase_disputes": lambda v, c: (
        f"It disputed {v('buyer_dispute_rate'):.1%} of its purchases in the last 12 months"
    ),
    "purchase_cancellations": lambda v, c: (
        f"It cancelled {v('buyer_cancel_rate'):.1%} of its purchases in the last 12 months"
    ),
    "customer_concentration": lambda v, c: (
        "No buyers in the last 12 months"
        if v("seller_counterparties") <= 0
        else f"Its largest buyer took {v('seller_top_share'):.0%} of its sales in the last 12 "
        f"months ({_count(v('seller_counterparties'), 'buyer')} in all)"
    ),
    "supplier_concentration": lambda v, c: (
        "No suppliers in the last 12 months"
        if v("buyer_counterparties") <= 0
        else f"Its largest supplier provided {v('buyer_top_share'):.0%} of its purchases in the "
        f"last 12 months ({_count(v('buyer_counterparties'), 'supplier')} in all)"
    ),
    "sales_recency": lambda v, c: _recency("sale", v("seller_days_since_last")),
    "purchase_recency": lambda v, c: _recency("purchase", v("buyer_days_since_last")),
    "tenure": lambda v, c: _tenure(v("tenure_days")),
    "profile": _profile,
    "sales_vs_declared": lambda v, c: (
        f"Sales in the last 12 months were "
        f"{_exp(v('sales_to_declared')):.0%} of its declared annual revenue"
    ),
    "activity": _activity,
    "shared_identifiers": lambda v, c: (
        f"Its phone, device, address or bank account is also "
        f"registered to {_count(v('shared_id_businesses'), 'other business', 'other businesses')}"
    ),
    "credit_history": lambda v, c: _credit(v),
    "other": lambda v, c: "Other features of its own trading record",
}

#: Applicant sentences for counterparty concerns: what is said about the counterparties as a
#: group, after "Buyers that take 45% of its sales" (never who they are, never credit events).
CONCERN_PHRASES: dict[str, str] = {
    "trade": "have changed how much they trade",
    "disputes": "dispute, refund or cancel more of their orders",
    "strain": "have slowed or stopped trading",
    "credit": "carry a higher risk in the marketplace's assessment",
    "young": "are new to the marketplace",
    "profile": "have incomplete or unusual declared profiles",
}
_CP_LEAD = {
    "buyers": "Buyers that take {share} of its sales",
    "suppliers": "Suppliers that provide {share} of its purchases",
}
_OTHER_LEAD = {
    "shared": "Businesses that share its phone, device, address or bank account",
    "network": "Businesses two steps away in its trade network (its buyers' buyers or "
    "suppliers' suppliers)",
}


def applicant_sentence(
    unit: tuple[str, str], value: Value, currency: str, share: float | None = None
) -> str:
    """The applicant-facing sentence of ``unit``; ``value(feature)`` reads the business's own
    features; ``share`` is the part of its trade the named counterparties hold."""
    relation, name = unit
    if relation == "self":
        return SELF_SENTENCES[name](value, currency)
    phrase = CONCERN_PHRASES[name]
    if relation in _CP_LEAD:
        return f"{_CP_LEAD[relation].format(share=percent(share or 0.0))} {phrase}"
    return f"{_OTHER_LEAD[relation]} {phrase}"


def counterparty_fact(relation: str, concern: str, value: Value, currency: str) -> str:
    """What is wrong with one counterparty, for the analyst (may name credit events)."""
    as_buyer = relation != "suppliers"
    if concern == "trade":
        if as_buyer:
            return _trend("Purchases", value("buyer_gmv_growth"), value("buyer_orders_90d")).lower()
        return _trend("Sales", value("seller_gmv_growth"), value("seller_orders_90d")).lower()
    if concern == "disputes":
        if as_buyer:
            return (
                f"disputes {value('buyer_dispute_rate'):.1%}, cancels "
                f"{value('buyer_cancel_rate'):.1%} of its purchases"
            )
        return (
            f"refunds {value('seller_refund_rate'):.1%}, disputed on "
            f"{value('seller_dispute_rate'):.1%} of its sales"
        )
    if concern == "strain":
        sentence = _activity(value, currency)
        return sentence[0].lower() + sentence[1:]
    if concern == "credit":
        if value("known_fraud_365d") > 0:
            return "fraud confirmed in the last 12 months"
        if value("known_default_365d") > 0:
            return "defaulted in the last 12 months"
        return "trades with businesses that defaulted"
    if concern == "young":
        return f"{_count(value('tenure_days'), 'day')} on the marketplace"
    sentence = _profile(value, currency)
    return sentence[0].lower() + sentence[1:]


@dataclass(frozen=True)
class Reason:
    """One reason for one business: its stable ``code``, the applicant's ``text``, the
    analyst's ``detail`` and its ``contribution`` to the log-odds of the target."""

    code: str
    text: str
    detail: str
    contribution: float

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "text": self.text,
            "detail": self.detail,
            "contribution": round(self.contribution, 6),
        }


_ABOUT = {
    "buyers": "its buyers",
    "suppliers": "its suppliers",
    "shared": "businesses sharing an identifier with it",
    "network": "businesses two steps away",
}
#: Feature values the catalogue's examples are rendered with (one made-up business).
EXAMPLE_VALUES: dict[str, float] = {
    "seller_orders_365d": 85, "seller_gmv_365d": float(np.log1p(120_000)),
    "seller_orders_90d": 12, "seller_gmv_growth": float(np.log(0.62)),
    "buyer_orders_365d": 40, "buyer_gmv_365d": float(np.log1p(65_000)),
    "buyer_orders_90d": 6, "buyer_gmv_growth": float(np.log(0.55)),
    "seller_refund_rate": 0.083, "seller_dispute_rate": 0.061, "seller_cancel_rate": 0.042,
    "buyer_dispute_rate": 0.12, "buyer_cancel_rate": 0.07,
    "seller_counterparties": 3, "seller_top_share": 0.82,
    "buyer_counterparties": 2, "buyer_top_share": 0.9,
    "seller_days_since_last": 63, "buyer_days_since_last": 41,
    "tenure_days": 41, "log_employees": float(np.log1p(4)),
    "log_declared_revenue": float(np.log1p(400_000)), "sales_to_declared": float(np.log(0.3)),
    "silent": 0, "shared_id_businesses": 5, "known_default_365d": 1,
}  # fmt: skip


def catalogue(currency: str = "USD") -> list[dict[str, str]]:
    """Every code with what it is about and example texts for both audiences (rendered from
    :data:`EXAMPLE_VALUES`), for docs/reason-codes.md and the model card."""
    value = value_reader(EXAMPLE_VALUES)
    rows = []
    for unit in UNITS:
        relation, name = unit
        text = applicant_sentence(unit, value, currency, share=0.45)
        detail = text
        if relation != "self":
            held = f", 30% of its {'purchases' if relation == 'suppliers' else 'sales'}"
            held = held if relation in ("buyers", "suppliers") else ""
            detail = f"{text}. B000123{held}: {counterparty_fact(relation, name, value, currency)}"
        rows.append(
            {
                "code": code_of(unit),
                "about": _ABOUT.get(relation, "the business itself"),
                "applicant": text,
                "analyst": detail,
            }
        )
    return rows


def catalogue_markdown() -> str:
    """docs/reason-codes.md: the catalogue as a page (a test keeps the file equal to it)."""
    lines = [
        "# Reason codes",
        "",
        "<!-- rendered by gnn.reason_codes.catalogue_markdown(); do not edit by hand -->",
        "",
        "Every score carries up to four reasons, most important first: the units of the "
        "champion's own attributions (TreeSHAP, Integrated Gradients) that raise the risk most. "
        "Each has a stable **code**, a sentence for the **applicant** (facts about its own "
        "trade, amounts in the base currency; never another business's identity or credit "
        "events) and a **detail** for the analyst (the counterparties behind a counterparty "
        "reason, their share of the trade and what is wrong with each, and the reason's "
        "weight in log-odds). Scores in Neo4j (`reason_codes`, `reasons`, `reason_details` on "
        "`:Score` and `risk_*` on `:Business`), the API, `score --out` CSV and the report carry "
        "all three.",
        "",
        "Examples below are rendered for one made-up business.",
        "",
        "| code | about | applicant sentence (example) | analyst detail (example) |",
        "|---|---|---|---|",
    ]
    for row in catalogue():
        cells = [f"`{row['code']}`", row["about"], row["applicant"], row["analyst"]]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def value_reader(row: Mapping[str, float]) -> Value:
    """``value(feature)`` over a mapping, 0.0 for features the model does not have."""
    return lambda name: float(row.get(name, 0.0))
