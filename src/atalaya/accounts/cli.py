"""``atalaya agencies``, ``atalaya users`` and ``atalaya tokens``."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select

from atalaya.accounts import service
from atalaya.accounts.models import Agency, ApiToken, User
from atalaya.clitools import (
    cli_context,
    echo_table,
    read_secret_from_stdin,
    reports_errors,
    runtime,
    unit_of_work,
)
from atalaya.errors import DomainError

agencies = typer.Typer(help="Police forces, ministries and authorities, and their jurisdiction.")
users = typer.Typer(help="People who sign in, their agency and roles.")
tokens = typer.Typer(help="API bearer tokens.")


@agencies.command("add")
@reports_errors
def agencies_add(
    code: Annotated[str, typer.Argument(help="Agency code, unique on this node.")],
    name: Annotated[str, typer.Option(help="Full name of the agency.")],
    level: Annotated[
        str,
        typer.Option(help="federal, state, municipal, central_authority or competent_authority."),
    ],
    area: Annotated[str, typer.Option(help="Area of jurisdiction, e.g. MX, MX-CHH, MX-08-037.")],
    parent: Annotated[str | None, typer.Option(help="Code of the parent agency.")] = None,
) -> None:
    """Add an agency with its level and area of jurisdiction."""
    rt = runtime()
    with unit_of_work(rt) as session:
        agency = service.create_agency(
            session, cli_context(), code=code, name=name, level=level, area=area, parent=parent
        )
        typer.echo(f"agency {agency.code} added ({agency.level}, {agency.area_code})")


@agencies.command("list")
def agencies_list() -> None:
    """List the agencies on this node."""
    rt = runtime()
    with unit_of_work(rt) as session:
        rows = session.scalars(select(Agency).order_by(Agency.code)).all()
        echo_table(
            [
                {
                    "code": a.code,
                    "name": a.name,
                    "level": a.level,
                    "area": a.area_code,
                    "parent": a.parent.code if a.parent else None,
                }
                for a in rows
            ]
        )


@users.command("add")
@reports_errors
def users_add(
    name: Annotated[str, typer.Argument(help="Username used to sign in.")],
    agency: Annotated[str, typer.Option(help="Code of the user's agency.")],
    role: Annotated[list[str], typer.Option(help="Role; repeat for several.")],
    full_name: Annotated[str, typer.Option(help="The person's full name.")] = "",
) -> None:
    """Add a user. The password is read from standard input (one line)."""
    password = read_secret_from_stdin("Password: ")
    rt = runtime()
    with unit_of_work(rt) as session:
        user = service.create_user(
            session,
            cli_context(),
            rt.credentials,
            username=name,
            agency=agency,
            roles=role,
            password=password,
            full_name=full_name,
        )
        typer.echo(f"user {user.username} added to {agency} as {', '.join(sorted(user.roles))}")


@users.command("list")
def users_list() -> None:
    """List the users on this node."""
    rt = runtime()
    with unit_of_work(rt) as session:
        rows = session.scalars(select(User).order_by(User.username)).all()
        echo_table(
            [
                {
                    "username": u.username,
                    "agency": u.agency.code,
                    "roles": ", ".join(sorted(u.roles)),
                    "active": u.active,
                    "totp": u.totp_secret is not None,
                }
                for u in rows
            ]
        )


@tokens.command("create")
@reports_errors
def tokens_create(
    user: Annotated[str, typer.Argument(help="Username the token acts as.")],
    days: Annotated[
        float | None,
        typer.Option(help="Days until the token expires [default: ATALAYA_TOKEN_DAYS]."),
    ] = None,
    name: Annotated[str, typer.Option(help="A label to recognise the token by.")] = "",
) -> None:
    """Create an API token; the token alone is printed on the last line."""
    rt = runtime()
    with unit_of_work(rt) as session:
        owner = service.get_user(session, user)
        lifetime = days if days is not None else rt.settings.token_days
        token, row = service.create_token(session, cli_context(), owner, days=lifetime, name=name)
        typer.echo(f"token {row.id} for {user}, expires {row.expires_at:%Y-%m-%d %H:%M} UTC")
    typer.echo(token)


@tokens.command("revoke")
@reports_errors
def tokens_revoke(token_id: Annotated[int, typer.Argument(help="The token's id.")]) -> None:
    """Revoke a token at once."""
    rt = runtime()
    with unit_of_work(rt) as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise DomainError("API-106")
        service.revoke_token(session, cli_context(), row)
        typer.echo(f"token {token_id} revoked")


@tokens.command("list")
@reports_errors
def tokens_list(user: Annotated[str, typer.Argument(help="Username.")]) -> None:
    """List a user's tokens (never the tokens themselves)."""
    rt = runtime()
    with unit_of_work(rt) as session:
        owner = service.get_user(session, user)
        rows = session.scalars(select(ApiToken).where(ApiToken.user_id == owner.id)).all()
        echo_table(
            [
                {
                    "id": t.id,
                    "prefix": t.prefix,
                    "name": t.name,
                    "expires": t.expires_at,
                    "revoked": t.revoked_at,
                }
                for t in rows
            ]
        )
