"""The ``chatops`` command: serve, flags-api, socket, shell, deployments record, definitions lint,
check-metrics."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot import server
from bot.flags_api import serve_flags_api
from bot.logs import add_secrets, configure_logging
from bot.shell import run_shell
from flags import lint_definitions
from handlers.checks.metric_verify import verify_checks
from handlers.composition import build_application
from handlers.config import Config, ConfigError, Secrets, load_config
from handlers.deployments.registry import REGISTRY, Deployment, InvalidDeployment, RegistryUnavailable
from handlers.webhooks.status import UnknownReceiver, retry_dead, status_line, statuses

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatops", description="ChatOps for Flipper feature flags")
    parser.add_argument("--log-format", choices=("json", "console"), help="default: console in a terminal")
    parser.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), help="default: info (shell: warning)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", help="configuration file (default: $CHATOPS_CONFIG)")

    serve = commands.add_parser("serve", help="HTTP mode: /slack/events, /healthz, /readyz, /metrics")
    with_config(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes sharing the port (default 1)")
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)

    flags_api = commands.add_parser(
        "flags-api", help="OpenFeature's remote evaluation protocol (OFREP) for applications"
    )
    with_config(flags_api)
    flags_api.add_argument("--host", default="127.0.0.1")
    flags_api.add_argument("--port", type=int, default=8080)

    socket = commands.add_parser("socket", help="Socket Mode (needs SLACK_APP_TOKEN)")
    with_config(socket)

    shell = commands.add_parser("shell", help="a local console: no Slack needed")
    with_config(shell)
    shell.add_argument("--user", default=os.environ.get("USER") or getpass.getuser() or "you")
    shell.add_argument("--usergroups", default="", help="comma-separated user groups you are a member of")
    shell.add_argument("--channel", default="#chatops-shell", help="the channel you type in, e.g. '#production'")
    shell.add_argument("-c", dest="line", help="run one line and exit (non-zero when refused or failed)")

    deployments = commands.add_parser("deployments", help="the deployment registry")
    deployment_commands = deployments.add_subparsers(dest="deployments_command", required=True)
    record = deployment_commands.add_parser("record", help="record a deployment event (for any CI system)")
    with_config(record)
    record.add_argument("--env", required=True, help="deployment environment, e.g. gstg")
    record.add_argument("--sha", required=True, help="the deployed commit (7-40 hex characters)")
    record.add_argument("--ref", required=True, help="branch or tag that was deployed")
    record.add_argument("--status", required=True, choices=("running", "success", "failed", "canceled"))
    record.add_argument("--package", default="", help="package or version deployed")
    record.add_argument("--url", default="", help="pipeline or job URL")
    record.add_argument("--at", type=float, default=None, help="when the status changed (epoch seconds; default now)")

    check_metrics = commands.add_parser(
        "check-metrics", help="try every metric check against Prometheus; non-zero on any problem"
    )
    with_config(check_metrics)

    _webhooks_parser(commands, with_config)
    definitions = commands.add_parser("definitions", help="flag definition files")
    definition_commands = definitions.add_subparsers(dest="definitions_command", required=True)
    lint = definition_commands.add_parser("lint", help="check definition files; non-zero on any problem")
    lint.add_argument("folders", nargs="+", type=Path)
    return parser


def _webhooks_parser(commands: Any, with_config: Callable[[argparse.ArgumentParser], None]) -> None:
    hooks = commands.add_parser("webhooks", help="outgoing webhooks: status, and retrying dead letters")
    hook_commands = hooks.add_subparsers(dest="webhooks_command", required=True)
    with_config(hook_commands.add_parser("status", help="per receiver: delivered, pending, dead, last error"))
    retry = hook_commands.add_parser("retry", help="queue a receiver's dead letters again")
    with_config(retry)
    retry.add_argument("name", help="the receiver's name")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    json_logs = None if args.log_format is None else args.log_format == "json"
    level = args.log_level or ("warning" if args.command == "shell" else "info")
    configure_logging(json=json_logs, level=level)
    if args.command == "definitions":
        return _lint(args.folders)
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"chatops: configuration error: {error}", file=sys.stderr)
        return 2
    secrets = Secrets.from_environment()
    add_secrets(
        [
            secrets.bot_token,
            secrets.signing_secret,
            secrets.app_token,
            secrets.gitlab_webhook_token,
            secrets.gitlab_api_token,
        ]
    )
    add_secrets(_passwords(config))
    if args.command == "deployments":
        return asyncio.run(_record(config, args))
    if args.command == "webhooks":
        return asyncio.run(_webhooks(config, secrets, args))
    if args.command == "check-metrics":
        return asyncio.run(_check_metrics(config, secrets))
    if args.command == "flags-api":
        return serve_flags_api(config, args.host, args.port)
    if args.command == "shell":
        app = build_application(config, secrets)
        groups = frozenset(g.strip().lstrip("@") for g in args.usergroups.split(",") if g.strip())
        return asyncio.run(run_shell(app, args.user, groups, args.channel, args.line))
    if args.command == "serve":
        if args.workers < 1:
            print("chatops: --workers must be at least 1", file=sys.stderr)
            return 2
        return server.serve(
            config, secrets, args.host, args.port, args.workers, args.reuse_port, worker_argv=_worker_argv(args)
        )
    return server.socket_mode(config, secrets)


def _worker_argv(args: argparse.Namespace) -> list[str]:
    """The arguments of one worker of ``serve --workers N``, however N was written (``--workers=2``)."""
    argv = []
    if args.log_format:
        argv += ["--log-format", args.log_format]
    if args.log_level:
        argv += ["--log-level", args.log_level]
    argv += ["serve", "--host", args.host, "--port", str(args.port), "--workers", "1", "--reuse-port"]
    if args.config:
        argv += ["--config", str(Path(args.config).resolve())]
    return argv


def _passwords(config: Config) -> list[str]:
    """Passwords in the configured Redis URLs (redis://user:PASSWORD@host)."""
    from urllib.parse import urlsplit

    urls = [config.redis_url, *(e.redis_url for e in config.environments)]
    return [urlsplit(u).password or "" for u in urls if u]


async def _record(config: Config, args: argparse.Namespace) -> int:
    app = build_application(config)
    registry = app.ports.get(REGISTRY)
    try:
        if registry is None:
            print("chatops: the configuration has no `deployments` section", file=sys.stderr)
            return 2
        deployment = Deployment(
            environment=args.env,
            sha=args.sha.lower(),
            ref=args.ref,
            status=args.status,
            at=args.at if args.at is not None else time.time(),
            package=args.package,
            url=args.url,
        )
        became = await registry.record(deployment)
    except InvalidDeployment as error:
        print(f"chatops: not recorded: {error}", file=sys.stderr)
        return 2
    except RegistryUnavailable as error:
        print(f"chatops: not recorded: {error}", file=sys.stderr)
        return 1
    finally:
        await app.close()
    outcome = f"now {became}" if became else "older than what is known: kept in the history only"
    print(f"recorded {deployment.status} of {deployment.sha[:11]} on {deployment.environment} ({outcome})")
    return 0


async def _check_metrics(config: Config, secrets: Secrets) -> int:
    if config.metrics is None:
        print("chatops: the configuration has no `metrics` section: there is nothing to check", file=sys.stderr)
        return 2
    app = build_application(config, secrets)
    try:
        client = app.services.prometheus() if app.services is not None else None
        assert client is not None
        names = [e.name for e in config.environments]
        findings = await verify_checks(client, config.metrics, names, app.definitions)
    finally:
        await app.close()
    for finding in findings:
        print(("problem: " if finding.problem else "") + finding.text)
    problems = sum(1 for f in findings if f.problem)
    checks, places = len(config.metrics.checks), len(config.environments)
    print(f"{checks} check(s) in {places} environment(s): {problems} problem(s)", file=sys.stderr)
    return 1 if problems else 0


async def _webhooks(config: Config, secrets: Secrets, args: argparse.Namespace) -> int:
    app = build_application(config, secrets)
    try:
        if args.webhooks_command == "retry":
            try:
                count = await retry_dead(app, args.name)
            except UnknownReceiver as error:
                print(f"chatops: {error}", file=sys.stderr)
                return 2
            print(f"{args.name}: {count} dead letter(s) queued again")
            return 0
        for found in await statuses(app):
            print(status_line(found))
        if not config.webhooks:
            print("no receivers: the configuration has no webhooks", file=sys.stderr)
        return 0
    finally:
        await app.close()


def _lint(folders: list[Path]) -> int:
    problems = lint_definitions(folders)
    for problem in problems:
        print(problem)
    count = sum(1 for folder in folders if folder.is_dir() for _ in folder.rglob("*.y*ml"))
    print(f"{count} definition file(s) checked, {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
