"""`vts-client webhooks create|list|delete|deliveries`: a tenant's webhook endpoints."""

from __future__ import annotations

import argparse
from typing import Any

from translation_client._client import TranslationClient
from translation_client._output import Output


def add_parser(commands: Any) -> None:
    """The `webhooks` command and its subcommands, on vts-client's subparsers."""
    hooks = commands.add_parser("webhooks", help="webhook endpoints and deliveries")
    sub = hooks.add_subparsers(dest="webhooks_command", required=True)
    create = sub.add_parser(
        "create", help="add an endpoint; prints its secret (shown only once)"
    )
    create.add_argument("endpoint_url", metavar="URL", help="where to POST (https)")
    create.add_argument(
        "--event",
        dest="events",
        action="append",
        metavar="TYPE",
        help="an event type such as job.completed (repeatable; default: every type)",
    )
    create.add_argument("--description", default="", help="a note for yourself")
    sub.add_parser("list", help="the endpoints, oldest first")
    delete = sub.add_parser("delete", help="delete an endpoint and its deliveries")
    delete.add_argument("endpoint_id", metavar="ID")
    deliveries = sub.add_parser("deliveries", help="an endpoint's deliveries")
    deliveries.add_argument("endpoint_id", metavar="ID")
    deliveries.add_argument("--status", choices=("pending", "succeeded", "failed"))
    deliveries.add_argument("--limit", type=int, default=20, help="default 20")


async def run(client: TranslationClient, args: argparse.Namespace, out: Output) -> None:
    command = args.webhooks_command
    if command == "create":
        made = await client.webhooks.create(
            args.endpoint_url, args.events or ["*"], args.description
        )
        out.data(made, f"{made['id']} {made['url']}\nsecret: {made['secret']}")
    elif command == "list":
        found = await client.webhooks.list()
        out.data(found, "\n".join(_endpoint_line(e) for e in found) or "(none)")
    elif command == "delete":
        await client.webhooks.delete(args.endpoint_id)
        out.data(
            {"id": args.endpoint_id, "deleted": True}, f"{args.endpoint_id} deleted"
        )
    else:
        listed = await client.webhooks.deliveries(
            args.endpoint_id, args.status, max(1, args.limit)
        )
        out.data(listed, "\n".join(_delivery_line(d) for d in listed) or "(none)")


def _endpoint_line(endpoint: dict[str, Any]) -> str:
    state = (
        f"disabled: {endpoint['disabled_reason']}"
        if endpoint["disabled_at"]
        else "enabled"
    )
    events = ",".join(endpoint["events"])
    return f"{endpoint['id']} {endpoint['url']} [{events}] {state}"


def _delivery_line(delivery: dict[str, Any]) -> str:
    answer = delivery["response_status"] or delivery["error"] or "-"
    return (
        f"{delivery['id']} {delivery['type']} {delivery['job_id']} "
        f"{delivery['status']} attempts={delivery['attempts']} last={answer}"
    )
