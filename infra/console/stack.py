"""`timeline up`, `timeline seed`, `timeline redrive`: the local stack, its demo data, its queues."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from infra.console import defaults
from infra.console.common import endpoint, parse_assignment, region


def _params(values: list[str] | None) -> list[str]:
    for value in values or []:
        parse_assignment(value)  # BadParameter before anything starts
    return values or []


def up(
    demo: Annotated[bool, typer.Option("--demo/--no-demo", help="Seed the demo data once the stack is up.")] = True,
    port: Annotated[int, typer.Option(min=0, max=65535, help="HTTP API port (0: any free port).")] = defaults.API_PORT,
    emulator_port: Annotated[int, typer.Option(
        min=0, max=65535,
        help="Embedded moto port (0: any free port; ignored with AWS_ENDPOINT_URL).")] = defaults.EMULATOR_PORT,
    param: Annotated[list[str] | None, typer.Option(
        metavar="Name=Value", callback=_params,
        help="Template parameter override, repeatable (e.g. CelebrityThreshold=3).")] = None,
    stack_name: Annotated[str, typer.Option(help="CloudFormation stack name on the emulator.")] = defaults.STACK_NAME,
    seed: Annotated[int, typer.Option(help="Random seed of the demo data.")] = defaults.DEMO_SEED,
    demo_users: Annotated[int, typer.Option(min=5, help="Demo accounts (5 or more).")] = defaults.DEMO_USERS,
    demo_posts: Annotated[int, typer.Option(min=1, help="Demo posts.")] = defaults.DEMO_POSTS,
    verbose: Annotated[bool, typer.Option(
        "--verbose",
        help="Debug logs, the emulator's included; function output here instead of .local/logs/.")] = False,
    reload: Annotated[bool, typer.Option(
        "--reload/--no-reload", help="Restart a function's workers when functions/ or layers/ code changes.")] = True,
    log_dir: Annotated[Path, typer.Option(
        help="The functions' log files (`<Function>.log`), replaced each run; one folder per stack.")]
    = defaults.LOG_DIR,
    metrics: Annotated[bool, typer.Option(
        "--metrics/--no-metrics",
        help="A live metrics line (posts/s, fan-out lag, DLQ depth) from the function logs.")] = True,
    persist: Annotated[Path | None, typer.Option(
        metavar="DIR",
        help="Keep the emulator's state in DIR: saved on a clean stop (Ctrl-C), loaded on the next start, "
             "which then skips deploying and seeding (a changed template.yaml is refused).")] = None,
    ready_file: Annotated[Path | None, typer.Option(
        metavar="PATH",
        help="Write the API URL and the emulator's endpoint to PATH (JSON) once the stack serves; removed "
             "when it stops. Scripts and tests wait for it instead of reading the log.")] = None,
) -> None:
    """Start the local stack in the foreground: **what `make run` does**.

    Exits 2 at once, before starting anything, when the command line cannot work (a port in
    use, says by whom; an unknown --param; a --log-dir or --ready-file that cannot be written),
    with one line saying why and what to do. Ctrl-C (SIGINT) or SIGTERM stops it; a clean stop
    exits 0.

    Embedded AWS emulator (moto) on :4566, template.yaml deployed to it, a worker per function,
    the event-source pollers, the HTTP API on :3000, then demo data. Prints the API URL, a demo
    login and curl commands; Ctrl-C stops everything. Function output goes to
    `.local/logs/<Function>.log` (`timeline logs api -f`; --log-dir elsewhere), and a metrics
    line from it every few seconds while it changes (`timeline metrics`: a table). Editing
    `functions/<name>/` or `layers/timeline/python/` reloads the functions concerned.

    **Examples**

        timeline up
        timeline up --no-demo --param CelebrityThreshold=3
        timeline up --log-dir /tmp/stack-b/logs --port 3001 --emulator-port 4567 --no-metrics
        timeline up --persist .local/state   # your data survives a restart; the next start takes seconds
        AWS_ENDPOINT_URL=http://127.0.0.1:4566 timeline up   # LocalStack instead of moto
    """
    from infra.console.up import UpOptions, run

    args = UpOptions(demo=demo, port=port, emulator_port=emulator_port,
                           param=[parse_assignment(p) for p in param or []], stack_name=stack_name, seed=seed,
                           demo_users=demo_users, demo_posts=demo_posts, verbose=verbose, reload=reload,
                           log_dir=log_dir, metrics=metrics, persist=persist, ready_file=ready_file)
    raise typer.Exit(run(args))


# ------------------------------------------------------------------------------ seed

def _stack_settings(endpoint_url: str, stack_name: str) -> tuple[dict[str, str], dict[str, str]] | None:
    """(parameters, outputs) of the stack on the emulator, or None when it cannot be read."""
    import boto3
    from botocore.config import Config

    from infra.runtime.emulator import use_fake_credentials
    use_fake_credentials(region())
    cfn = boto3.client("cloudformation", endpoint_url=endpoint_url, region_name=region(),
                       config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}))
    try:
        described = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    except Exception:  # no emulator there, or no such stack: the seed still works without
        return None
    return ({p["ParameterKey"]: p["ParameterValue"] for p in described.get("Parameters", [])},
            {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])})


def queues_idle(endpoint_url: str, queue_urls: list[str], *, interval: float = 0.3,
                quiet_checks: int = 3) -> Callable[[float], bool]:
    """A wait_idle for infra.console.seed.seed from outside the stack's process: true once the queues
    (fan-out, media) show no message, visible or in flight, `quiet_checks` times in a row."""
    import boto3

    sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name=region())

    def wait(timeout: float) -> bool:
        deadline, quiet = time.monotonic() + timeout, 0
        while time.monotonic() < deadline:
            busy = 0
            for url in queue_urls:
                attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                    "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
                busy += sum(int(v) for v in attrs.values())
            quiet = quiet + 1 if busy == 0 else 0
            if quiet >= quiet_checks:
                return True
            time.sleep(interval)
        return False
    return wait


def busiest_poster(seed_plan: Any) -> int:
    """The most posts (posts, replies, reposts, pictures) one account of the plan makes."""
    counts = Counter(author for author, _ in seed_plan.posts)
    counts.update(actor for actor, _, _ in seed_plan.reactions)
    counts.update(owner for owner, _, _ in seed_plan.pictures)
    return max(counts.values(), default=0)


def seed(
    api: Annotated[str, typer.Option(envvar="TIMELINE_API", help="The running stack's HTTP API.")] = defaults.LOCAL_API,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed builds the same demo.")] = defaults.DEMO_SEED,
    demo_users: Annotated[int, typer.Option(min=5, help="Demo accounts (5 or more).")] = defaults.DEMO_USERS,
    demo_posts: Annotated[int, typer.Option(min=1, help="Demo posts.")] = defaults.DEMO_POSTS,
    endpoint_url: Annotated[str | None, typer.Option(
        help="The stack's emulator (default: AWS_ENDPOINT_URL, else http://127.0.0.1:4566): its "
             "CelebrityThreshold and post rate limit, and its queues to wait for.")] = None,
    stack_name: Annotated[str, typer.Option(help="The stack's name on the emulator.")] = defaults.STACK_NAME,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the fan-out to drain.")] = True,
    threads: Annotated[int, typer.Option(help="Concurrent requests.")] = 8,
    force: Annotated[bool, typer.Option("--force", help="Seed even if the stack's rate limits look too low.")]
    = False,
) -> None:
    """Load the demo data into an already running local stack, over its public API.

    Signs up the demo accounts (password demo-password-1; the login is **demo**),
    follows along a power-law graph, posts, replies, reposts and uploads pictures, with a
    progress bar per phase, then waits for the fan-out. The same seed gives the same demo;
    accounts that exist already are reused, posts are added again.

    **Examples**

        timeline up --no-demo --param PostRateLimitPerMinute=1000 \
            --param SignUpsPerAddressPerHour=1000 --param SignInAttemptsPerAddressPerMinute=1000
        timeline seed --demo-users 50 --demo-posts 300              # in another terminal
    """
    import requests
    from rich.console import Console

    from infra.console import seed as demo
    from infra.console.progress import SeedProgressBar, stderr_console

    err = stderr_console()
    try:
        health = requests.get(api.rstrip("/") + "/v1/health", timeout=5)
        if health.status_code != 200:
            raise requests.ConnectionError(f"GET /v1/health answered {health.status_code}")
    except requests.RequestException as exc:
        typer.echo(f"timeline seed: no local stack at {api} ({type(exc).__name__}): start one first, "
                   "`timeline up --no-demo --param PostRateLimitPerMinute=1000`, or pass --api", err=True)
        raise typer.Exit(1) from None

    emulator = endpoint(endpoint_url)
    settings = _stack_settings(emulator, stack_name)
    threshold = demo.DEFAULT_THRESHOLD
    wait_idle = None
    seed_plan = demo.plan(demo_users, demo_posts, threshold=threshold, seed=seed)
    if settings is None:
        err.print(f"[yellow]could not read stack {stack_name!r} at {emulator}[/yellow]: celebrities are "
                  f"reported for CelebrityThreshold={threshold}, and the fan-out is not waited for.")
    else:
        params, outputs = settings
        threshold = int(params.get("CelebrityThreshold") or threshold)
        seed_plan.threshold = threshold
        limit = int(params.get("PostRateLimitPerMinute") or 0)
        needed = busiest_poster(seed_plan)
        if limit and limit < needed and not force:
            err.print(f"[red]the stack allows {limit} posts a minute per account[/red] (PostRateLimitPerMinute) "
                      f"and the demo's busiest account makes {needed}: most of them would be refused (429).\n"
                      f"Restart it with [bold]timeline up --no-demo --param PostRateLimitPerMinute="
                      f"{demo.DEMO_POST_RATE_LIMIT}[/bold], seed fewer posts, or pass --force.")
            raise typer.Exit(1)
        # Every sign-up and sign-in comes from this machine's one address.
        accounts = len(seed_plan.users)
        for name, allowed in (("SignUpsPerAddressPerHour", int(params.get("SignUpsPerAddressPerHour") or 0)),
                              ("SignInAttemptsPerAddressPerMinute",
                               int(params.get("SignInAttemptsPerAddressPerMinute") or 0))):
            if allowed and allowed < accounts and not force:
                err.print(f"[red]the stack allows {allowed} from one address[/red] ({name}) and the demo signs "
                          f"up and in {accounts} accounts from this one: most would be refused (429).\n"
                          f"Restart it with [bold]timeline up --no-demo --param {name}={max(1000, accounts)}"
                          f"[/bold], seed fewer users, or pass --force.")
                raise typer.Exit(1)
        queues = [outputs[name] for name in ("FanoutQueueUrl", "MediaQueueUrl") if name in outputs]
        if wait and queues:
            wait_idle = queues_idle(emulator, queues)

    err.print(f"seeding {api}: {len(seed_plan.users)} users, {len(seed_plan.follows)} follows, "
              f"{len(seed_plan.posts)} posts, {len(seed_plan.reactions)} replies and reposts, "
              f"{len(seed_plan.pictures)} pictures (seed {seed})")
    try:
        with SeedProgressBar(err) as progress:
            report = demo.seed(api, seed_plan, wait_idle=progress.waiting(wait_idle) if wait else None,
                               progress=progress, threads=threads)
    except demo.SeedError as exc:
        err.print(f"[red]seeding failed:[/red] {exc}")
        raise typer.Exit(1) from None

    out = Console(highlight=False)
    settled = ("" if wait_idle is None else
               f", fan-out settled in {report.settle_seconds:.1f}s" if report.settled
               else " [yellow](fan-out still busy)[/yellow]")
    out.print(f"[green]seeded[/green] {report.users} users, {report.follows} follows, {report.posts} posts: "
              f"{report.requests} requests in {report.api_seconds:.1f}s "
              f"({report.requests_per_second:.0f} req/s){settled}")
    out.print(f"celebrities (followers >= {threshold}): "
              + (", ".join(f"{h} ({n})" for h, n in report.celebrities) or "none"))
    out.print(f"login: handle [bold]{demo.DEMO_HANDLE}[/bold], password [bold]{demo.DEMO_PASSWORD}[/bold]")


# ------------------------------------------------------------------------------ redrive

class Queue(StrEnum):
    fanout = "fanout"
    media = "media"
    all = "all"


def redrive(
    queue: Annotated[Queue, typer.Option(help="Which dead-letter queue to move back.")] = Queue.all,
    stack_name: Annotated[str, typer.Option(help="The stack whose outputs name the queues.")] = defaults.STACK_NAME,
    local: Annotated[bool, typer.Option(
        "--local",
        help="The local stack's emulator (http://127.0.0.1:4566, fake credentials) instead of "
             "AWS_ENDPOINT_URL or your AWS account.")] = False,
    max: Annotated[int | None, typer.Option(help="Move at most this many messages per queue.")] = None,
) -> None:
    """Move dead-lettered messages back to the queue they failed on, after a fix.

    The queues come from the stack's outputs, so the same command serves the local stack
    (--local) and a deployed one (your AWS credentials). Each message is sent to its queue,
    then deleted from the DLQ; the consumers are idempotent. Exits 1 if a message could not be
    sent back.

    **Examples**

        timeline redrive --local
        timeline redrive --queue media --stack-name timeline-prod --max 100
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from infra.console.common import CommandLineError
    from infra.console.up import redrive as run_redrive

    try:
        code = run_redrive(queue.value, stack_name, local=local, limit=max)
    except (BotoCoreError, ClientError) as exc:  # no emulator there, no such stack, no credentials
        where = "the local stack's emulator (`timeline up` first)" if local else "AWS_ENDPOINT_URL or your AWS account"
        raise CommandLineError(f"cannot read stack {stack_name!r} from {where}: {exc}") from None
    raise typer.Exit(code)
