"""``fullon-account dlq list|show|replay|drop``: the dead letters, for an operator to act on.

``list`` and ``show`` only read. ``replay`` puts letters back on their account's stream (the one
they came from unless ``ACCOUNT_STREAM_PARTITIONS`` changed since) once the cause is fixed (a sink
upgraded to a newer schema, an account added), removing each letter only after it was
re-published (``bus.dlq_ops``). ``drop`` deletes letters for good and asks first
unless ``--yes``. ``replay`` and ``drop`` act on the ids given, or on what the filters select;
with neither they refuse, so every letter needs ``--all``.

Kept free of ccxt (directly or not), so the command starts at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from fullon_account_service.cli.shared_redis import reader_settings
from fullon_account_service.contract import KINDS
from fullon_account_service.errors import AccountServiceError
from fullon_account_service.redaction import redact_text
from fullon_account_service.settings import Settings

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from fullon_account_service.bus.dlq_ops import Letter, LetterFilter

T = TypeVar("T")

dlq_app = typer.Typer(
    name="dlq", help="List, show, replay or drop dead letters.", no_args_is_help=True, add_completion=False
)

Ids = Annotated[list[str] | None, typer.Argument(help="Dead-letter ids (as `dlq list` shows them).")]
Reason = Annotated[str | None, typer.Option("--reason", help="Only letters whose reason contains this.")]
Kind = Annotated[list[str] | None, typer.Option("--kind", "-k", help="Only this kind (repeatable).")]
ExId = Annotated[list[int] | None, typer.Option("--ex-id", help="Only this account (repeatable).")]
From = Annotated[str | None, typer.Option("--from", help="Only letters with this id or later.")]
To = Annotated[str | None, typer.Option("--to", help="Only letters with this id or earlier.")]
Json = Annotated[bool, typer.Option("--json", help="One JSON object per letter.")]
All = Annotated[bool, typer.Option("--all", help="Every letter, when no id or filter is given.")]


def _selection(
    reason: str | None, kind: list[str] | None, ex_id: list[int] | None, start: str | None, end: str | None
) -> LetterFilter:
    from fullon_account_service.bus.dlq_ops import LetterFilter
    from fullon_account_service.bus.streams import parse_id

    kinds = frozenset(kind or ())
    unknown = sorted(kinds - set(KINDS))
    if unknown:
        raise typer.BadParameter(
            f"unknown kind {', '.join(unknown)}: expected {', '.join(KINDS)}", param_hint="--kind"
        )
    for value, hint in ((start, "--from"), (end, "--to")):
        if value is not None:
            try:
                parse_id(value)
            except ValueError as e:
                raise typer.BadParameter(str(e), param_hint=hint) from None
    return LetterFilter(reason or None, kinds, frozenset(ex_id or ()), start or "-", end or "+")


def _run(settings: Settings, action: Callable[[aioredis.Redis, str], Awaitable[T]]) -> T:
    """Run ``action(redis, prefix)`` on the configured Redis; a failure is one line and exit 1."""
    from fullon_account_service.redis_client import make_redis

    async def run() -> T:
        redis = make_redis(settings)
        try:
            return await action(redis, settings.stream_prefix)
        finally:
            await redis.aclose()

    try:
        return asyncio.run(run())
    except AccountServiceError as e:
        typer.echo(f"error: {redact_text(str(e))}", err=True)
        raise typer.Exit(1) from None


def _time(ms: int | None) -> str:
    return "" if ms is None else dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds")


def _as_json(letter: Letter) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": letter.letter_id,
        "time": _time(letter.time_ms),
        "reason": letter.reason,
        "stream": letter.stream,
        "entry_id": letter.entry_id,
        "group": letter.group,
        "consumer": letter.consumer,
        "kind": letter.kind,
        "ex_id": letter.ex_id,
    }
    if letter.envelope is not None:
        obj["envelope"] = msgspec.to_builtins(letter.envelope)
    else:
        obj["undecodable"] = letter.undecodable
        obj["payload"] = letter.payload.decode(errors="replace")
    return obj


def _emit_json(letters: list[Letter]) -> None:
    encoder = msgspec.json.Encoder()
    for letter in letters:
        typer.echo(encoder.encode(_as_json(letter)).decode())


def _table(letters: list[Letter]) -> None:
    table = Table("id", "time", "kind", "ex_id", "from", "group", "reason", title="dead letters")
    for letter in letters:
        reason = letter.reason if len(letter.reason) <= 100 else letter.reason[:99] + "…"
        table.add_row(
            letter.letter_id,
            _time(letter.time_ms),
            letter.kind or "?",
            "" if letter.ex_id is None else str(letter.ex_id),
            f"{letter.stream} {letter.entry_id}".strip(),
            letter.group,
            reason,
        )
    Console(soft_wrap=True).print(table)


@dlq_app.command("list")
def list_letters(
    reason: Reason = None,
    kind: Kind = None,
    ex_id: ExId = None,
    start: From = None,
    end: To = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many.")] = 100,
    as_json: Json = False,
) -> None:
    """List dead letters, oldest first, with their reasons."""
    settings = reader_settings("dlq")
    from fullon_account_service.bus import dlq_ops

    selection = _selection(reason, kind, ex_id, start, end)
    letters = _run(settings, lambda redis, prefix: dlq_ops.read_letters(redis, prefix, selection, limit))
    if as_json:
        _emit_json(letters)
    else:
        _table(letters)
        typer.echo(f"{len(letters)} letter(s) shown", err=True)


@dlq_app.command()
def show(
    letter_ids: Annotated[list[str], typer.Argument(help="Dead-letter ids.")],
    as_json: Json = False,
) -> None:
    """Show letters in full: reason, origin and the original event."""
    settings = reader_settings("dlq")
    from fullon_account_service.bus import dlq_ops

    letters = _run(settings, lambda redis, prefix: dlq_ops.get_letters(redis, prefix, letter_ids))
    missing = sorted(set(letter_ids) - {letter.letter_id for letter in letters})
    if as_json:
        _emit_json(letters)
    else:
        console = Console(soft_wrap=True, highlight=False)
        for letter in letters:
            obj = _as_json(letter)
            body = obj.pop("envelope", None)
            for name, value in obj.items():
                console.print(f"[bold]{name}[/bold]: {value}")
            if body is not None:
                console.print_json(msgspec.json.encode(body).decode())
            console.print()
    if missing:
        typer.echo(f"no dead letter {', '.join(missing)}", err=True)
        raise typer.Exit(1)


def _chosen(
    letter_ids: list[str] | None, selection: LetterFilter, every: bool
) -> Callable[[aioredis.Redis, str], Awaitable[list[Letter]]]:
    if letter_ids and selection.narrows:
        raise typer.BadParameter("give letter ids or filters, not both")
    if not letter_ids and not selection.narrows and not every:
        raise typer.BadParameter("give letter ids, a filter, or --all for every letter")

    from fullon_account_service.bus import dlq_ops

    async def pick(redis: aioredis.Redis, prefix: str) -> list[Letter]:
        if letter_ids:
            return await dlq_ops.get_letters(redis, prefix, letter_ids)
        return await dlq_ops.read_letters(redis, prefix, selection)

    return pick


@dlq_app.command()
def replay(
    letter_ids: Ids = None,
    reason: Reason = None,
    kind: Kind = None,
    ex_id: ExId = None,
    start: From = None,
    end: To = None,
    every: All = False,
) -> None:
    """Put letters back on their account's stream; each is removed once re-published."""
    settings = reader_settings("dlq")
    from fullon_account_service.bus import dlq_ops

    pick = _chosen(letter_ids, _selection(reason, kind, ex_id, start, end), every)
    partitions = settings.stream_partitions

    async def act(redis: aioredis.Redis, prefix: str) -> dlq_ops.ReplayResult:
        return await dlq_ops.replay(redis, prefix, await pick(redis, prefix), partitions=partitions)

    result = _run(settings, act)
    for letter_id, stream, new_id in result.replayed:
        typer.echo(f"replayed {letter_id} -> {stream} {new_id}")
    for letter_id, why in result.skipped:
        typer.echo(f"skipped {letter_id}: {why}", err=True)
    typer.echo(f"{len(result.replayed)} replayed, {len(result.skipped)} skipped", err=True)
    if result.skipped:
        raise typer.Exit(1)


@dlq_app.command()
def drop(
    letter_ids: Ids = None,
    reason: Reason = None,
    kind: Kind = None,
    ex_id: ExId = None,
    start: From = None,
    end: To = None,
    every: All = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete letters for good (asks first unless --yes)."""
    settings = reader_settings("dlq")
    from fullon_account_service.bus import dlq_ops

    pick = _chosen(letter_ids, _selection(reason, kind, ex_id, start, end), every)
    letters = _run(settings, pick)
    if not letters:
        typer.echo("no dead letter matches", err=True)
        return
    if not yes and not typer.confirm(f"Drop {len(letters)} dead letter(s) for good?", default=False):
        typer.echo("nothing dropped", err=True)
        raise typer.Exit(1)
    ids = [letter.letter_id for letter in letters]
    removed = _run(settings, lambda redis, prefix: dlq_ops.drop(redis, prefix, ids))
    typer.echo(f"dropped {removed} letter(s)")
