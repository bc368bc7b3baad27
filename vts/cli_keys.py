"""`vts keys create|list|revoke`: API keys straight in VTS_DATABASE_URL, no HTTP needed."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from vts import registry
from vts.apikeys import KEY_ID, SCOPES, ApiKey
from vts.codec import format_time
from vts.config import Settings
from vts.config_values import parse_duration
from vts.errors import KeyNotFoundError, ValidationError
from vts.keyring import check_key_request, issue_key
from vts.ports import KeyStore


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="create, list and revoke API keys")
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a key; prints it once")
    create.add_argument("--tenant", required=True, help="the key's tenant")
    create.add_argument(
        "--scope",
        dest="scopes",
        action="append",
        required=True,
        choices=SCOPES,
        help="a scope the key has (repeat for several)",
    )
    create.add_argument(
        "--expires", metavar="DURATION", help="lifetime such as 90d or 12h (never)"
    )
    listing = actions.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--tenant", help="only this tenant's keys")
    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", metavar="ID")
    for action in (create, listing, revoke):
        action.add_argument("--database-url", dest="database_url", metavar="URL")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    store = registry.create_store(settings)
    if not isinstance(store, KeyStore):
        print(f"vts: the {type(store).__name__} keeps no API keys", file=sys.stderr)
        return 2
    await store.open()
    try:
        await store.migrate()
        if args.keys_command == "create":
            return await _create(store, settings, args)
        if args.keys_command == "list":
            for key in await store.list_keys(args.tenant):
                print(_row(key))
            return 0
        if not KEY_ID.match(args.key_id):  # perhaps a whole key: never echoed
            print(f"vts: {KeyNotFoundError(None).message}", file=sys.stderr)
            return 1
        revoked = await store.revoke_key(args.key_id, datetime.now(UTC))
        if revoked is None:
            print(f"vts: no API key with id {args.key_id!r}", file=sys.stderr)
            return 1
        print(f"revoked {revoked.id} (tenant {revoked.tenant})")
        return 0
    finally:
        await store.close()


async def _create(store: KeyStore, settings: Settings, args: argparse.Namespace) -> int:
    try:
        expires_in = None if args.expires is None else parse_duration(args.expires)
    except ValueError:
        print(f"vts: --expires {args.expires!r} is not a duration", file=sys.stderr)
        return 2
    try:
        tenant, scopes = check_key_request(args.tenant, args.scopes, expires_in)
    except ValidationError as exc:
        print(f"vts: {exc.message}", file=sys.stderr)
        return 2
    key, token = await issue_key(
        store, settings, tenant, scopes, expires_in, datetime.now(UTC)
    )
    print(token)
    print(
        f"key {key.id} for tenant {key.tenant} ({' '.join(sorted(key.scopes))}), "
        f"expires {format_time(key.expires_at) or 'never'}: "
        "store it now, it is not shown again",
        file=sys.stderr,
    )
    return 0


def _row(key: ApiKey) -> str:
    state = "revoked" if key.revoked_at is not None else "active"
    return "\t".join(
        [
            key.id,
            key.tenant,
            ",".join(sorted(key.scopes)),
            state,
            f"created={format_time(key.created_at)}",
            f"expires={format_time(key.expires_at) or 'never'}",
            f"last_used={format_time(key.last_used_at) or 'never'}",
        ]
    )
