"""The "what memory costs" part of `nexus stats` (issue 16): tokens per day and per session."""

from __future__ import annotations

from typing import Any

from nexus_memory.domain.costs import CHANNELS


def _pct(part: int, whole: int) -> str:
    return f" ({100 * part // whole} %)" if whole > 0 else ""


def render(report: dict[str, Any]) -> list[str]:
    """Lines for the terminal: per day against each agent's daily cap, per session against its budgets."""
    default_cap = report["default_cap"]
    cap_text = f"daily cap {default_cap:,} tokens per agent" if default_cap else "no daily cap"
    lines = [f"Tokens of memory injected, last {report['days']} days ({cap_text}; "
             "NEXUS_DAILY_TOKEN_CAP / NEXUS_DAILY_TOKEN_CAPS):"]
    if not report["per_day"]:
        return [*lines, "  nothing injected yet"]
    lines.append(f"  {'day':<10} {'tokens':>8} " + " ".join(f"{c:>13}" for c in CHANNELS) + f" {'capped':>7}")
    for d in report["per_day"]:
        lines.append(f"  {d['day']:<10} {d['tokens']:>8,} "
                     + " ".join(f"{d['channels'].get(c, 0):>13,}" for c in CHANNELS) + f" {d['capped']:>7}")
    for agent, used in sorted(report["today_by_agent"].items()):
        cap = report["caps"].get(agent, 0)
        against = f" of {cap:,}{_pct(used, cap)}" if cap else " (no cap)"
        spent = ": cap spent, only strongly relevant prompt recall" if cap and used >= cap else ""
        lines.append(f"  today {agent}: {used:,}{against}{spent}")
    lines.append("Per session, newest first (tokens injected / budget the injections were filled to):")
    for s in report["sessions"]:
        capped = f", {s['capped']} capped" if s["capped"] else ""
        lines.append(f"  {s['agent_type']} {s['session_key'] or '-'}: {s['tokens']:,} / {s['budget']:,}"
                     f"{_pct(s['tokens'], s['budget'])} in {s['injections']} injection(s){capped}"
                     f"{'  ' + s['project'] if s['project'] else ''}")
    return lines
