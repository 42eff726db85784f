"""What every command shares: settings, a session committed once, errors on stderr."""

from __future__ import annotations

import datetime as dt
import gc
import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import typer
from sqlalchemy.orm import Session

from atalaya.audit.service import Actor, AuditContext
from atalaya.errors import DomainError, message_for
from atalaya.i18n import translator
from atalaya.runtime import Runtime
from atalaya.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")


def runtime() -> Runtime:
    return Runtime.from_settings(Settings())


@contextmanager
def unit_of_work(rt: Runtime) -> Iterator[Session]:
    """Yield a session and commit it once at the end; roll back on any error."""
    with rt.db.sessions() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def collected_between_batches() -> Iterator[Callable[[], object]]:
    """Pause Python's automatic garbage collection for a bulk job; yield the function
    the job calls between batches to collect what the batch left.

    A bulk import allocates millions of small objects, and the automatic collector
    walks them over and over as they pile up (a fifth of an import's time). Objects
    alive before the job are set aside (``gc.freeze``), so each collection between
    batches looks only at what the job made; memory stays bounded by one batch.
    """
    was_enabled = gc.isenabled()
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield gc.collect
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def cli_context() -> AuditContext:
    """The audit context of a command: the operating-system user who ran it."""
    return AuditContext(Actor("cli", username=f"os:{getpass.getuser()}"), None, "cli")


def fail(code: str, message: str) -> None:
    typer.echo(f"{code}: {message}", err=True)
    raise typer.Exit(1)


def reports_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a ``DomainError`` into ``CODE: message`` on stderr and exit status 1."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except DomainError as error:
            language = Settings().language
            message = message_for(error.code, translator(language), error.params)
            field = f" [{error.field}]" if error.field else ""
            typer.echo(f"{error.code}{field}: {message}", err=True)
            raise typer.Exit(1) from None

    return wrapper


def refusal(code: str) -> str:
    """Return ``CODE: message`` for a value an option refuses, in the node's language: a
    parser raises it as ``typer.BadParameter``, which names the option."""
    return f"{code}: {message_for(code, translator(Settings().language))}"


def day(text: str) -> dt.datetime:
    """Return the day ``text`` gives (``YYYY-MM-DD``), in ASCII digits only (``API-104``
    otherwise, as the API answers): ``strptime`` alone reads Arabic-Indic or full-width
    digits (``٢٠٢٤``). Use it as ``typer.Option(parser=day)``."""
    if not text.isascii():
        raise typer.BadParameter(refusal("API-104"))
    return dt.datetime.strptime(text, "%Y-%m-%d")


def read_secret_from_stdin(prompt: str) -> str:
    """Return one line from stdin; prompt without echo when stdin is a terminal."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().rstrip("\r\n")


def echo_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for column in rows[0] if rows else []:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v) if v is not None else "" for v in row.values()))
    Console().print(table)
