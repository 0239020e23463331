"""Issue, list and revoke Open311 client applications' API keys (operators' command).

    python -m services.complaints.apikeys issue --client jxb-12345 --name "津心办 12345" --rate 60
    python -m services.complaints.apikeys list [--all]
    python -m services.complaints.apikeys revoke KEY_ID

The database is complaints' own (DATABASE_URL, as the service reads it; the command applies the
service's migrations first, as the service does at start). `issue` prints the key once: only its
SHA-256 is stored, so a lost key is revoked and a new one issued. A revoked key is refused at
once by every replica (each POST looks the key up); its row stays, for the record.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from runtime import db
from runtime.errors import DomainError
from runtime.scheduler import SystemClock
from services.complaints.adapters.postgres import SOURCE, PgComplaintsUnitOfWork
from services.complaints.service import api_keys
from services.complaints.service.ports import ApiKey
from services.complaints.settings import ComplaintsSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def _row(k: ApiKey) -> str:
    state = "active" if k.revoked_at is None else f"revoked {k.revoked_at.isoformat()}"
    return (
        f"{k.key_id}  {k.client_id}  {k.name}  {k.key_prefix}…  {k.rate_per_minute}/min  "
        f"created {k.created_at.isoformat()}  {state}"
    )


async def run(args: argparse.Namespace, database_url: str) -> list[str]:
    await db.prepare_database(database_url, MIGRATIONS, "complaints")
    pool = await db.create_pool(database_url, max_size=2)
    clock = SystemClock()

    def units() -> PgComplaintsUnitOfWork:
        return PgComplaintsUnitOfWork(pool, source=SOURCE, clock=clock)

    try:
        if args.command == "issue":
            issued = await api_keys.issue(
                units, client_id=args.client, name=args.name, rate_per_minute=args.rate
            )
            return [
                _row(issued.key),
                f"api_key: {issued.secret}",
                "仅显示一次，请妥善交给客户端 / shown once: only its SHA-256 is stored",
            ]
        if args.command == "list":
            return [_row(k) for k in await api_keys.listed(units, include_revoked=args.all)]
        return [_row(await api_keys.revoke(units, args.key_id))]
    finally:
        await pool.close()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m services.complaints.apikeys", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    issue = sub.add_parser("issue", help="issue a key (printed once)")
    issue.add_argument("--client", required=True, help="client id, e.g. jxb-12345")
    issue.add_argument("--name", required=True, help="who the client is, e.g. 津心办 12345")
    issue.add_argument("--rate", type=int, default=60, help="POSTs a minute (default 60)")
    listing = sub.add_parser("list", help="active keys (--all: revoked ones too)")
    listing.add_argument("--all", action="store_true")
    revoke = sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    return p


def main(argv: Sequence[str], database_url: str | None = None) -> int:
    args = parser().parse_args(list(argv))
    url = database_url or ComplaintsSettings().database_url
    try:
        lines = asyncio.run(run(args, url))
    except DomainError as exc:
        print(f"refused: {exc.message.zh} / {exc.message.en}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
