"""``fullon-account health``: one look at processes, consumer groups, dead letters and freshness.

Exit code 0 when healthy, 1 when not (data is not reaching storage: a stalled group, a sink
waiting on a broken store, too much lag, stale balances, an account's producer silent): usable
as a Kubernetes exec probe or in a cron check. Exit code 3 when data flows but the dead-letter
stream holds more than ``ACCOUNT_DLQ_WARN`` letters (``--dlq-warn``; 0 turns that check off).
Exit code 2 when no Redis is configured (``cli.shared_redis``): every check reads what other
processes wrote there; a Redis that does not answer is a problem (exit 1), said in one line.

It also explains every account's balance changes (``verify.explained``) from the balance anchors
in Redis and the fills and ledger entries in the database: a remainder is a problem (exit 1)
naming the account, the currency and the window (a warning for an account whose producer collects
no ledger entries, where a deposit is unexplained by design). ``--no-explain`` skips that (Redis only); a
database that cannot be read is a warning, not a verdict. The database is read by its driver alone
(``storage.db.plain_history``): a probe that runs every few seconds does not import the ORM.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated

import typer

from fullon_account_service.cli.shared_redis import reader_settings
from fullon_account_service.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from rich.console import Console

    from fullon_account_service.health import HealthReport
    from fullon_account_service.verify.explained import AccountExplanation


def add_explanations(report: HealthReport, explanations: list[AccountExplanation]) -> None:
    """Balance explained into ``report``: each unexplained window is a problem naming it (a
    warning for an account whose ledger is not collected)."""
    from fullon_account_service.verify.explained import describe

    for account in explanations:
        report.balance_explained[str(account.ex_id)] = {
            "windows": len(account.windows),
            "waiting": account.waiting,
            "stored_through_ms": account.stored_through_ms,
            "remainders": account.remainders(),
        }
        for window in account.failing:
            report.fail(describe(account.ex_id, window))
        if not account.ledger_collected:
            windows = account.unexplained
            report.warnings += [describe(account.ex_id, w, ledger_collected=False) for w in windows]


async def _explain(settings: Settings, redis: Redis, report: HealthReport) -> None:
    from fullon_account_service.errors import AccountServiceError
    from fullon_account_service.verify.explained import explain_accounts

    try:
        explanations = await explain_accounts(
            settings.database_url,
            redis,
            prefix=settings.stream_prefix,
            band_ms=settings.explain_band_ms,
            partitions=settings.stream_partitions,
        )
    except AccountServiceError as e:
        report.warnings.append(f"balance explained not checked: {e}")
        return
    add_explanations(report, explanations)


async def _collect(
    settings: Settings,
    stall_after_s: float,
    max_lag: int,
    max_age_s: float | None,
    dlq_warn: int,
    *,
    explain: bool,
    silent_after_s: float | None,
) -> HealthReport:
    from fullon_account_service.bus.redis_errors import REDIS_ERRORS
    from fullon_account_service.health import SILENT_PRODUCER_S, HealthReport, collect_health
    from fullon_account_service.redaction import redact_text
    from fullon_account_service.redis_client import make_redis

    redis = make_redis(settings)
    try:
        report = await collect_health(
            redis,
            settings.stream_prefix,
            stall_after_s=stall_after_s,
            max_lag=max_lag,
            max_age_s=max_age_s,
            dlq_warn=dlq_warn,
            partitions=settings.stream_partitions,
            silent_after_s=SILENT_PRODUCER_S if silent_after_s is None else silent_after_s,
        )
        if explain:
            await _explain(settings, redis, report)
    except REDIS_ERRORS as e:
        report = HealthReport()
        report.fail(redact_text(f"cannot reach Redis: {type(e).__name__}: {e}").splitlines()[0])
    finally:
        await redis.aclose()
    if settings.embedded_redis:
        report.warnings.append("REDIS_URL is not set: this looked at its own empty embedded Redis")
    return report


def _render(report: HealthReport, console: Console) -> None:
    from rich.markup import escape
    from rich.table import Table

    console.print(f"[bold]{'healthy' if report.healthy else 'UNHEALTHY'}[/bold]")
    groups = Table("stream", "group", "consumers", "lag", "pending", "idle ms", title="consumer groups")
    for g in report.groups:
        groups.add_row(g.stream, g.group, str(g.consumers), str(g.lag), str(g.pending), str(g.idle_ms))
    console.print(groups)
    fresh = Table("ex_id", "age s", title="balance freshness")
    for ex_id, age in sorted(report.freshness_s.items()):
        fresh.add_row(ex_id, f"{age:.1f}")
    console.print(fresh)
    procs = Table("component", "status", "message", "updated", title="processes")
    for p in report.processes:
        procs.add_row(
            str(p.get("component")), str(p.get("status")), str(p.get("message")), str(p.get("updated_at"))
        )
    console.print(procs)
    explained = Table(
        "ex_id", "windows", "waiting", "largest remainder per currency", title="balance explained"
    )
    for ex_id, row in sorted(report.balance_explained.items()):
        worst = ", ".join(f"{cur} {value:+.10g}" for cur, value in sorted(row["remainders"].items()))
        explained.add_row(ex_id, str(row["windows"]), str(row["waiting"]), worst)
    console.print(explained)
    console.print(f"dead letters: {report.dead_letters}")
    # one line each, however narrow the terminal: these are what an operator greps for
    for record in report.sink_errors:
        who = f"{record.get('group')}/{record.get('consumer')}"
        line = f"sink {who}: {record.get('status')}: {record.get('reason')}"
        console.print(escape(line), soft_wrap=True)
    for problem in report.problems:
        console.print(f"[red]problem:[/red] {escape(problem)}", soft_wrap=True)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)


def health(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object instead of tables.")] = False,
    stall_after: Annotated[
        float, typer.Option(help="Seconds a group with work may go without an active consumer.")
    ] = 60.0,
    max_lag: Annotated[int, typer.Option(help="Largest acceptable consumer-group lag.")] = 100_000,
    max_age: Annotated[
        float | None, typer.Option(help="Largest acceptable age of an account's balances, in seconds.")
    ] = None,
    dlq_warn: Annotated[
        int | None,
        typer.Option(min=0, help="Exit 3 above this many dead letters (default ACCOUNT_DLQ_WARN; 0: never)."),
    ] = None,
    explain: Annotated[
        bool,
        typer.Option("--explain/--no-explain", help="Explain every balance change (reads the database)."),
    ] = True,
    silent_after: Annotated[
        float | None,
        typer.Option(min=0, help="Seconds an account's producer may go without reporting (default 120)."),
    ] = None,
) -> None:
    """Report health; exit 1 when data is not flowing into storage, 3 when dead letters pile up."""
    settings = reader_settings("health")
    threshold = settings.dlq_warn if dlq_warn is None else dlq_warn
    report = asyncio.run(
        _collect(
            settings, stall_after, max_lag, max_age, threshold, explain=explain, silent_after_s=silent_after
        )
    )
    if as_json:
        typer.echo(json.dumps(report.to_dict(), default=str))
    else:
        from rich.console import Console

        _render(report, Console())
    raise typer.Exit(report.exit_code())
