"""`mlplat cost`: what the blueprint's platform costs per hour and per month at on-demand list prices, idle and with
every node pool at its limit. Offline: the blueprint and the dated price table in mlplat/prices.py, no AWS call."""

from __future__ import annotations

import argparse
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from mlplat.blueprint import load
from mlplat.cli.base import Command
from mlplat.cost import CostReport, estimate
from mlplat.prices import HOURS_PER_MONTH, PRICES_DATE
from mlplat.settings import today


def cents(usd: float | None) -> float | None:
    """Half up, as money is rounded (round() would show a $0.045 NAT gateway-hour as 0.04: binary floats)."""
    return None if usd is None else float(Decimal(repr(usd)).quantize(Decimal("0.01"), ROUND_HALF_UP))


def as_document(report: CostReport) -> dict[str, Any]:
    """The --json document; money is rounded to cents here and only here."""
    return {
        "region": report.region,
        "prices_date": PRICES_DATE.isoformat(),
        "hours_per_month": HOURS_PER_MONTH,
        "eks_support": report.eks_support,
        "idle": {
            "items": [{"item": i.name, "count": i.count, "detail": i.detail, "hourly": cents(i.hourly),
                       "monthly": cents(i.monthly)} for i in report.items],
            "hourly": cents(report.idle_hourly),
            "monthly": cents(report.idle_monthly),
            "unpriced": list(report.unpriced),
        },
        "pools": {p.pool: {"instance_type": p.instance_type, "instances": p.instances,
                           "binding_limit": p.binding_limit or None, "hourly": cents(p.hourly),
                           "monthly": cents(p.monthly), "unpriced_families": list(p.unpriced_families)}
                  for p in report.pools},
        "notes": list(report.notes),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    bp = load(args.blueprint)
    return {"blueprint": str(args.blueprint), "name": bp.name, **as_document(estimate(bp, today()))}


def _money(usd: float | None) -> str:
    return "n/a" if usd is None else f"{usd:,.2f}"


def render(r: dict[str, Any]) -> str:
    idle = r["idle"]
    rows = [(i["item"], i["detail"], _money(i["hourly"]), _money(i["monthly"])) for i in idle["items"]]
    rows.append(("idle total", "", _money(idle["hourly"]), _money(idle["monthly"])))
    pool_rows = []
    for name, p in r["pools"].items():
        if p["instance_type"] is None:
            detail = f"no price for {', '.join(p['unpriced_families'])} in {r['region']}"
        else:
            detail = f"{p['instances']} x {p['instance_type']} ({p['binding_limit']} limit)"
        pool_rows.append((name, detail, _money(p["hourly"]), _money(p["monthly"])))
    w0 = max(len(x[0]) for x in rows + pool_rows)
    w1 = max(len(x[1]) for x in rows + pool_rows)
    w2 = max(len("$/h"), *(len(x[2]) for x in rows + pool_rows))

    def line(a: str, b: str, c: str, d: str) -> str:
        return f"  {a.ljust(w0)}  {b.ljust(w1)}  {c.rjust(w2)}  {d.rjust(10)}"

    out = [f"{r['blueprint']}: platform {r['name']} in {r['region']}, USD at on-demand list prices read "
           f"{r['prices_date']} (a month is {r['hours_per_month']} h)", "",
           "idle (no workloads)", line("item", "count/detail", "$/h", "$/month")]
    out += [line(*row) for row in rows]
    if idle["unpriced"]:
        out.append(f"  not in the total (no sourced price for {r['region']}): {', '.join(idle['unpriced'])}")
    out += ["", "each node pool at its limit (cheapest admitted on-demand type)",
            line("pool", "nodes", "$/h", "$/month")]
    out += [line(*row) for row in pool_rows]
    for name, p in r["pools"].items():
        if p["instance_type"] is not None and p["unpriced_families"]:
            out.append(f"  {name}: cheapest among the priced families; no price for "
                       f"{', '.join(p['unpriced_families'])} in {r['region']}")
    out += ["", *(f"note: {n}" for n in r["notes"])]
    return "\n".join(out)


COMMAND = Command(name="cost", help="hourly and monthly cost of the blueprint's platform at on-demand list prices: "
                  "idle, and each node pool at its limit", run=run, render=render, uses_terraform=False)
