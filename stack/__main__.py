"""`python -m stack up|down|infra|status|env|token` (the Makefile's targets call these)."""

from __future__ import annotations

import argparse
import shlex
import sys

from stack import say


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack", description="the Wijkaanpak local stack")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start everything (idempotent), seed, print URLs")
    sub.add_parser("down", help="stop everything `up` started; data stays")
    sub.add_parser("infra", help="PostgreSQL + Kafka (+ topics, dev keys) only, for tests")
    sub.add_parser("status", help="what runs")
    sub.add_parser("env", help="shell exports of DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS for tests")
    token = sub.add_parser("token", help="print a dev JWT the running stack accepts")
    token.add_argument("--role", required=True)
    token.add_argument("--municipalities", required=True, help="comma separated, e.g. GM0479,GM0453")
    token.add_argument("--partner", default=None, help="partner id (group_admin, partner_agent, integration)")
    token.add_argument("--sub", default=None)
    token.add_argument("--ttl", type=int, default=None, help="seconds (default 12 h)")
    args = parser.parse_args(argv)

    if args.command == "token":
        from stack.keys import DEFAULT_TTL_SECONDS, ROLES, dev_token

        if args.role not in ROLES:
            parser.error(f"--role must be one of {', '.join(ROLES)}")
        if args.role == "integration" and not args.partner and not args.sub:
            parser.error("--role integration needs --partner (or --sub)")
        municipalities = _split(args.municipalities)
        print(
            dev_token(
                role=args.role,
                municipalities=municipalities,
                partner_id=args.partner or None,
                sub=args.sub or None,
                ttl_seconds=args.ttl if args.ttl is not None else DEFAULT_TTL_SECONDS,
            )
        )
        return 0

    from stack import local

    try:
        if args.command == "up":
            local.up()
        elif args.command == "down":
            local.down()
        elif args.command == "infra":
            local.infra()
        elif args.command == "status":
            return local.status()
        elif args.command == "env":
            for key, value in local.test_env().items():
                print(f"export {key}={shlex.quote(value)}")
    except (local.StackError, RuntimeError) as exc:
        say(f"FAILED: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
