"""`make run`: the whole stack on this machine, no Docker.

    timeline up [--no-demo] [--port 3000] [--emulator-port 4566] [--param Name=Value ...]
                [--stack-name NAME] [--no-reload] [--log-dir .local/logs] [--no-metrics]
                [--persist DIR] [--ready-file PATH]

emulator -> deploy template.yaml -> function workers (reloaded when their code changes) ->
event-source pollers -> HTTP gateway -> demo data -> foreground until Ctrl-C / SIGTERM, then
everything stops in reverse order. The typer command (infra/console/stack.py) fills in UpOptions.

Demo data (infra/console/demo_loader.py): its accounts and follows are written through the store
layer while the workers, pollers and gateway start, and the banner comes once they are (the
demo login signs in before); posts, pictures and the pipeline's fan-out follow in the
background, and the log says when the whole demo is readable. With `--persist DIR`
(infra/runtime/snapshot.py) the emulator's state is saved on a clean stop and loaded on the next
start, which then neither deploys nor seeds.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shlex
import signal
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.console import seed as demo
from infra.console.common import CommandLineError
from infra.console.defaults import API_PORT, DEMO_POSTS, DEMO_SEED, DEMO_USERS, LOG_DIR, STACK_NAME
from infra.runtime.emulator import DEFAULT_PORT as EMULATOR_PORT
from infra.runtime.emulator import Emulator, EmulatorError, use_fake_credentials

log = logging.getLogger("infra.console.up")


class Stop(BaseException):
    """Raised in the main thread by SIGINT/SIGTERM: unwinds startup or the foreground wait
    alike, so every started component is closed by the same ExitStack."""


# ------------------------------------------------------------------ options and logging

@dataclass
class UpOptions:
    """What `timeline up` starts (its typer options, infra/console/stack.py, fill these in)."""

    demo: bool = True
    port: int = API_PORT
    emulator_port: int = EMULATOR_PORT
    param: list[tuple[str, str]] = field(default_factory=list)
    stack_name: str = STACK_NAME
    seed: int = DEMO_SEED
    demo_users: int = DEMO_USERS
    demo_posts: int = DEMO_POSTS
    verbose: bool = False
    reload: bool = True
    log_dir: Path = LOG_DIR
    metrics: bool = True
    persist: Path | None = None
    ready_file: Path | None = None


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.short = record.name.rpartition(".")[2]
        return super().format(record)


# The project's own loggers: the only ones the terminal shows unless --verbose.
OWN_LOGGERS = ("infra", "bench")
LIBRARY_LOG = "libraries.txt"  # under --log-dir; not *.log, which are the functions' (and wiped each run)


def _own(record: logging.LogRecord) -> bool:
    return any(record.name == name or record.name.startswith(name + ".") for name in OWN_LOGGERS)


class _CurrentStderr:
    """sys.stderr as it is when a line is written: while the demo's progress bar runs on a
    terminal, rich has swapped in a proxy that prints each line above the bar."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def setup_logging(verbose: bool, log_dir: Path | None = None) -> Path | None:
    """The stack's lines on stderr. Unless `verbose`, only the project's own (OWN_LOGGERS): what
    the libraries log (moto, pynamodb's settings, werkzeug, botocore) goes to `log_dir`/libraries.txt,
    whose path is returned (None: nowhere, when there is no `log_dir`)."""
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(_Formatter("%(asctime)s.%(msecs)03d %(short)-9s %(message)s", "%H:%M:%S"))
    handlers: list[logging.Handler] = [handler]
    library_log = None
    if not verbose:
        handler.addFilter(_own)
        if log_dir is not None:
            library_log = log_dir / LIBRARY_LOG
            to_file = logging.FileHandler(library_log, mode="w", encoding="utf-8", delay=True)
            to_file.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
            to_file.addFilter(lambda record: not _own(record))
            handlers.append(to_file)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=handlers, force=True)
    if not verbose:
        # The emulator's own access log and boto's chatter: not even in the file.
        for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "moto"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    return library_log


def validate_params(sam: dict[str, Any], params: dict[str, str]) -> None:
    unknown = sorted(set(params) - set(sam.get("Parameters", {})))
    if unknown:
        known = ", ".join(sorted(sam.get("Parameters", {})))
        raise CommandLineError(f"unknown template parameter(s) {', '.join(unknown)} in --param; "
                               f"template.yaml has: {known}")


# ------------------------------------------------------------------ before anything starts

def _next_free(port: int, tries: int = 50) -> int | None:
    from infra.console.doctor import port_free

    return next((p for p in range(port + 1, min(port + 1 + tries, 65536)) if port_free(p)), None)


def busy_port(port: int, what: str, option: str) -> str | None:
    """None if `port` is free (or 0: any free one); else the one line saying who holds it, if
    /proc tells (infra.console.doctor.listener, what `timeline doctor` shows), and the ways out."""
    from infra.console.doctor import listener, port_free

    if not port or port_free(port):
        return None
    who = listener(port)
    free = _next_free(port)
    other = f"`timeline up {option} {free}`" if free else f"`timeline up {option} 0` (any free port)"
    return (f"port {port} ({what}) is already in use" + (f" by {who}" if who else "") +
            f": start on another port, {other}, or stop the other stack (Ctrl-C where it runs) and try again")


def _check_writable(path: Path, option: str, *, folder: bool) -> None:
    """`path` (a folder to fill, or a file to write) can be written: else CommandLineError."""
    try:
        if folder:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / f".timeline-up-{os.getpid()}"
            probe.touch()
            probe.unlink()
        else:
            if path.is_dir():
                raise CommandLineError(f"{option} {path} is a folder; give a file path")
            path.parent.mkdir(parents=True, exist_ok=True)  # as write_ready_file does
            existed = path.exists()
            with path.open("a", encoding="utf-8"):
                pass
            if not existed:
                path.unlink()
    except OSError as exc:
        raise CommandLineError(f"{option} {path} cannot be written: {exc.strerror or exc}") from None


def preflight(args: UpOptions) -> None:
    """What the command line asks of this machine, checked before anything starts: the ports
    are free, the log folder and the ready file can be written. Raises CommandLineError (one
    line, exit 2)."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", args.stack_name):
        raise CommandLineError(f"--stack-name {args.stack_name!r}: a CloudFormation stack name is a letter, then "
                               "letters, digits and hyphens (128 at most)")
    embedded = not os.environ.get("AWS_ENDPOINT_URL")
    if embedded and args.port and args.port == args.emulator_port:
        raise CommandLineError(f"--port and --emulator-port are both {args.port}: give them different ports")
    checks = [(args.port, "HTTP API", "--port")]
    if embedded:
        checks.append((args.emulator_port, "AWS emulator", "--emulator-port"))
    for port, what, option in checks:
        problem = busy_port(port, what, option)
        if problem:
            raise CommandLineError(problem)
    if not args.verbose:
        _check_writable(Path(args.log_dir or LOG_DIR).expanduser(), "--log-dir", folder=True)
    if args.ready_file is not None:
        _check_writable(Path(args.ready_file), "--ready-file", folder=False)
    if args.persist is not None:
        _check_writable(Path(args.persist).expanduser(), "--persist", folder=True)


# ------------------------------------------------------------------ the run command

class Steps:
    """Startup progress: "[2/6] deploying template.yaml ... 2.1s"."""

    def __init__(self, total: int):
        self.total, self.n = total, 0

    def run(self, title: str, fn: Callable[[], Any]) -> Any:
        self.n += 1
        log.info("[%d/%d] %s ...", self.n, self.total, title)
        started = time.perf_counter()
        result = fn()
        log.info("[%d/%d] %s: done in %.1fs", self.n, self.total, title, time.perf_counter() - started)
        return result


# A second signal within this long of the first is the same request delivered twice, not a
# second Ctrl-C: `timeout -s INT` signals the process and then its whole process group (so the
# stack got SIGINT twice, and once idle, after the demo, it handled the first before the second
# came and died at once by os._exit, never saying "stopped cleanly"); so do wrappers that
# forward a signal to a group that also got it from the terminal.
DUPLICATE_SIGNAL_SECONDS = 1.0


def _install_signal_handlers() -> None:
    def stop(signum: int, _frame: Any) -> None:
        first = time.monotonic()

        def now(again: int, _frame: Any) -> None:
            # A second signal while shutting down means "now": skip the rest of the cleanup.
            if time.monotonic() - first < DUPLICATE_SIGNAL_SECONDS:
                return  # the first one, delivered twice: the clean stop goes on
            os._exit(128 + again)

        signal.signal(signal.SIGINT, now)
        signal.signal(signal.SIGTERM, now)
        raise Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def run(args: UpOptions) -> int:
    from infra.runtime import template as tpl  # boto3 and the SAM translator: not for --help

    preflight(args)
    setup_logging(args.verbose, None if args.verbose else Path(args.log_dir or LOG_DIR).expanduser())
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    use_fake_credentials(region)
    sam = tpl.load_sam()
    params = dict(args.param)
    validate_params(sam, params)
    persistence = None
    if args.persist:
        try:
            persistence = _persistence(args, region, params)
        except EmulatorError as exc:  # a snapshot that does not fit this run: say so, start nothing
            log.error("%s", exc)
            return 1
    if persistence is not None and persistence.restorable:
        params = dict(persistence.params)  # the stack as it was deployed (explicit --param checked)
        origin = f"as deployed, from the snapshot in {persistence.directory}"
    elif args.demo and "CelebrityThreshold" not in params:
        # The template's production default (10000) would leave the demo without celebrities.
        params["CelebrityThreshold"] = str(demo.DEFAULT_THRESHOLD)
        origin = "demo default; change with --param CelebrityThreshold=N"
    else:
        origin = "from --param" if "CelebrityThreshold" in params else "template default"
    threshold = params.get("CelebrityThreshold") or tpl.parameter_defaults(sam).get("CelebrityThreshold")
    log.info("CelebrityThreshold=%s (%s)", threshold, origin)

    if params.get("Stage") == "prod":  # no auto-confirm: show the codes Cognito would email
        from infra.runtime.moto_fixes import cognito
        cognito.ANNOUNCE_CONFIRMATION_CODES = True
    _install_signal_handlers()
    started = time.perf_counter()
    seeding = args.demo and not (persistence is not None and persistence.restorable)
    steps = Steps(6 if seeding else 5)
    with ExitStack() as running:
        try:
            _start(args, sam, params, int(threshold), region, steps, running, started, persistence)
            signal.pause() if hasattr(signal, "pause") else _sleep_forever()
        except Stop as why:
            log.info("%s received: stopping", why)
        except EmulatorError as exc:
            log.error("%s", exc)
            return 1
        except tpl.UnsupportedSetting as exc:  # the template asks for what cannot run here
            log.error("%s", exc)
            return 1
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            # taken between preflight's check and the bind: the same one line, after the fact
            log.error("%s", busy_port(args.port, "HTTP API", "--port") or f"a port is already in use ({exc})")
            return 2
        # Leaving the `with` closes gateway, pollers, functions, emulator, in that order.
    log.info("stopped cleanly")
    return 0


def _sleep_forever() -> None:  # pragma: no cover - platforms without signal.pause
    while True:
        time.sleep(3600)


def _start(args: UpOptions, sam: dict[str, Any], params: dict[str, str], threshold: int,
           region: str, steps: Steps, running: ExitStack, started: float, persistence: Any = None) -> None:
    # Imported here: these pull in heavier modules, and `--help` should stay instant.
    from infra.runtime.deployer import deploy
    from infra.runtime.local_stack import LocalStack

    emulator = steps.run("AWS emulator", lambda: Emulator.start(args.emulator_port))
    running.callback(emulator.stop)
    endpoint = emulator.endpoint_url
    restored = None
    if persistence is not None:
        if not emulator.embedded:
            raise EmulatorError("--persist keeps the embedded emulator's state; with AWS_ENDPOINT_URL the "
                                "emulator is someone else's (LocalStack keeps its own state)")
        running.callback(persistence.save)  # once workers and pollers have stopped, before the emulator
    if persistence is not None and persistence.restorable:
        restored = steps.run(f"restoring the emulator's state from {persistence.directory}",
                             lambda: persistence.restore(endpoint))
        stack = restored.stack
        log.info("restored the snapshot taken %s in %.1fs (%s): stack %r as deployed then, no deploy, no seeding",
                 restored.taken_at, restored.seconds,
                 ", ".join(f"{n} {s}" for s, n in sorted(restored.services.items())), stack.name)
    else:
        deployer_log = logging.getLogger("infra.runtime.deployer")
        level, deployer_log.level = deployer_log.level, logging.WARNING  # its report is printed below
        try:
            stack = steps.run(f"deploying template.yaml as stack {args.stack_name!r}",
                              lambda: deploy(args.stack_name, params, endpoint_url=endpoint, region=region))
        finally:
            deployer_log.setLevel(level)
        log.info("not hosted by the emulator's CloudFormation, handled here instead:")
        for line in stack.unhosted:
            log.info("  %s", line)
        if persistence is not None:
            from infra.runtime import template as tpl

            persistence.remember(stack, {**tpl.parameter_defaults(sam), **params}, demo=bool(args.demo))
    loading = None
    if args.demo and restored is None:  # written while the workers, pollers and gateway start
        loading = _DemoLoad.start(args, stack, emulator, threshold, persistence)
        running.callback(loading.stop)

    log_dir = None
    if not args.verbose:  # function output (JSON logs, metrics) goes to files, like CloudWatch
        log_dir = Path(args.log_dir or LOG_DIR).expanduser()
        log_dir.mkdir(parents=True, exist_ok=True)
        for old in log_dir.glob("*.log"):  # state is in memory, so are the logs: one run each
            old.unlink()
        log.info("function logs: %s/<Function>.log (--verbose prints them here)", log_dir)
    local = running.enter_context(LocalStack(
        stack.name, params, endpoint_url=endpoint, region=region, log_dir=log_dir, port=args.port,
        quiet=False, deployed=stack, reload=args.reload, step=steps.run))
    pollers, gateway = local.pollers, local.gateway
    if args.reload:
        log.info("code reload: a change under %s restarts its function's workers (--no-reload: off)",
                 ", ".join(local.reloader.describe_folders()))
    log.info("HTTP API on %s (%d routes)", gateway.url, len(gateway.config.routes))
    metrics_line = None
    if log_dir is not None and args.metrics:
        live, metrics_line = _live_metrics(stack, log_dir, endpoint, region)
        # The demo's progress bar owns a terminal while it runs: the line waits for the banner.
        metrics_line.held = bool(args.demo) and sys.stderr.isatty()
        running.callback(live.stop)
        live.start()
        log.info("live metrics: a line every %gs while they change, from %s and the dead-letter queues "
                 "(--no-metrics: off; `timeline metrics`: a table)", live.interval, log_dir)
    startup = time.perf_counter() - started
    if persistence is not None:
        persistence.pollers = pollers  # their checkpoints: the saved streams start after what was handled

    report = None
    if loading is not None:
        report = steps.run(loading.title, lambda: loading.written(gateway.url, started))
        loading.finish_in_background(gateway.url, pollers, started)
    elif restored is not None and restored.demo:
        from infra.console.demo_loader import LoadReport

        report = LoadReport()  # the demo is in the restored state: the banner shows its login
    note = ""
    if loading is not None:
        note = ("Demo      posts, replies, reposts and pictures are loading in the background; the log says "
                "'demo fully readable at ...s' when every timeline is filled")
    elif restored is not None:
        note = f"Restored  from {persistence.directory}: no deploy, no seeding; saved again on Ctrl-C"
    print(banner(gateway.url, endpoint, emulator.embedded, startup, report, note=note, region=region), flush=True)
    if loading is not None:  # from the banner to "demo fully readable": what the demo is doing
        loading.show_progress(lambda line: log.info("%s", line), tty=sys.stderr.isatty())
    if args.ready_file is not None:
        from infra.runtime.local_stack import write_ready_file

        ready_file = Path(args.ready_file)
        write_ready_file(ready_file, api_url=gateway.url, endpoint=endpoint, stack_name=stack.name,
                         embedded=emulator.embedded, startup_seconds=round(startup, 2))
        running.callback(ready_file.unlink, missing_ok=True)
    if metrics_line is not None:
        metrics_line.held = False


class _MetricsLine:
    """LiveMetrics' `out`: each line through this module's logger, so that it interleaves with
    the stack's other lines; dropped while `held` (LiveMetrics prints the next change)."""

    def __init__(self) -> None:
        self.held = False

    def __call__(self, line: str) -> None:
        if not self.held:
            log.info("%s", line)


def _live_metrics(stack: Any, log_dir: Path, endpoint: str, region: str) -> tuple[Any, _MetricsLine]:
    """infra.console.live_metrics.LiveMetrics on the function logs and the stack's dead-letter queues
    (asked through the stack's emulator, briefly: a metrics line never holds anything up)."""
    import boto3
    from botocore.config import Config

    from infra.console.live_metrics import LiveMetrics, dead_letter_queues

    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=region,
                       config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}))
    out = _MetricsLine()
    return LiveMetrics(log_dir, dead_letter_queues(stack.outputs, stack.physical_ids), out=out, sqs=sqs), out


def _persistence(args: UpOptions, region: str, explicit: dict[str, str]) -> Any:
    """The --persist directory: with a snapshot in it, checked against this run (SnapshotError,
    an EmulatorError, if it does not fit) and ready to restore."""
    from infra.runtime import template as tpl
    from infra.runtime.snapshot import Persistence

    persistence = Persistence(args.persist, stack_name=args.stack_name, region=region,
                              template_path=tpl.TEMPLATE_PATH)
    if persistence.exists():
        persistence.prepare(explicit)
        log.info("--persist %s: a snapshot taken %s is there: it is loaded instead of deploying and seeding",
                 persistence.directory, persistence.taken_at)
    else:
        log.info("--persist %s: no snapshot yet; the emulator's state is saved there on a clean stop",
                 persistence.directory)
    return persistence


class _DemoLoad:
    """The demo data (infra.console.demo_loader), written through the store layer:

    - its accounts and follows while the workers, pollers and gateway start; the demo login
      announced (after a real sign-in through the API) as soon as it works; the banner once
      every account and follow is written;
    - then, in the background: the pipeline syncs the follows (graph stream -> sync_follow);
      once it has, the posts, replies and reposts are written (a follow synced before the
      posts exist costs the pipeline two reads; synced after, a backfill: about 20 s more for
      the default demo on two cores), the pictures go through the API, and the pipeline fans
      everything out. Progress lines meanwhile, and a last line when the whole demo is readable.

    The per-request and per-batch lines are held back until then (thousands would bury
    everything else); the live metrics line shows the fan-out meanwhile."""

    QUIET = ("infra.runtime.gateway", "infra.runtime.pollers", "infra.runtime.functions")

    def __init__(self, plan: demo.SeedPlan, loader: Any, persistence: Any, embedded: bool):
        import threading

        self.plan, self.loader, self.persistence, self.embedded = plan, loader, persistence, embedded
        self.report: Any = None
        self.error: BaseException | None = None
        self.finisher: Any = None
        self.progress: Any = None
        self.step = "starting"  # what the background load does now (DemoProgress shows it)
        self._pollers: Any = None
        self._levels = {name: logging.getLogger(name).level for name in self.QUIET}
        self._thread = threading.Thread(target=self._write, name="demo-accounts", daemon=True)
        self.title = (f"demo data: {len(plan.users)} accounts, {len(plan.follows)} follows "
                      f"(then {len(plan.posts)} posts, {len(plan.reactions)} replies and reposts, "
                      f"{len(plan.pictures)} pictures in the background)")

    @classmethod
    def start(cls, args: UpOptions, stack: Any, emulator: Emulator, threshold: int,
              persistence: Any) -> _DemoLoad:
        from infra.console.demo_loader import DemoLoader

        plan = demo.plan(args.demo_users, args.demo_posts, threshold=threshold, seed=args.seed)
        loading = cls(plan, DemoLoader(stack, emulator.endpoint_url), persistence, emulator.embedded)
        if persistence is not None:  # a half-loaded demo is never saved: the next start seeds afresh
            persistence.hold = "the demo data was still loading"
        for name in cls.QUIET:
            logging.getLogger(name).setLevel(logging.WARNING)
        loading._thread.start()
        log.info("demo data (seed %d): accounts and follows written from now on, while the rest starts",
                 args.seed)
        return loading

    def _write(self) -> None:
        try:
            self.report = self.loader.write_accounts(self.plan)
        except BaseException as exc:  # handed to the main thread by written()
            self.error = exc
            self.loader.login_ready.set()

    def written(self, api_url: str, started: float) -> Any:
        """Wait for the demo login (and prove it with a sign-in), then for every account and follow."""
        self.loader.login_ready.wait()
        if self.error is None:
            try:
                demo.ApiClient(api_url, retries=1).sign_in(demo.DEMO_HANDLE, demo.DEMO_PASSWORD)
                log.info("API and demo login ready at %.1fs (handle %r)", time.perf_counter() - started,
                         demo.DEMO_HANDLE)
            except Exception as exc:  # the milestone is reported, not required
                log.warning("the demo login does not work yet: %s", exc)
        self._thread.join()
        if self.error is not None:
            raise self.error
        report = self.report
        log.info("demo accounts written at %.1fs: %d accounts (each can sign in), %d follows, in %.1fs",
                 time.perf_counter() - started, report.users, report.follows, report.written_seconds)
        return report

    def finish_in_background(self, api_url: str, pollers: Any, started: float) -> None:
        from infra.console.demo_loader import Finisher

        def posts_written(report: Any) -> None:
            self.step = f"posting {len(self.plan.pictures)} pictures through the API"
            log.info("demo posts written at %.1fs: %d posts, %d replies, %d reposts in %.1fs; celebrities "
                     "(followers >= %d, flagged by the pipeline: %s): %s", time.perf_counter() - started,
                     report.posts, report.replies, report.reposts, report.posts_seconds, self.plan.threshold,
                     ", ".join(report.promoted) or "none",
                     ", ".join(f"{h} ({n})" for h, n in report.celebrities) or "none")

        def pictures_done(count: int) -> None:
            self.step = f"fanning out {len(self.plan.posts) + len(self.plan.reactions):,} posts, replies and reposts"
            logging.getLogger("infra.runtime.gateway").setLevel(self._levels["infra.runtime.gateway"])
            if self.persistence is not None:
                self.persistence.hold = None  # every row is written: the state may be saved from now on

        def done(finished: Any) -> None:
            self._close_progress()
            for name, level in self._levels.items():
                logging.getLogger(name).setLevel(level)
            r = self.report
            log.info("demo fully readable at %.1fs: %d accounts, %d follows, %d posts, %d replies, %d reposts, "
                     "%d pictures; the fan-out %s", time.perf_counter() - started, r.users, r.follows, r.posts,
                     r.replies, r.reposts, finished.pictures,
                     "has settled" if finished.settled else "has NOT settled (pollers still busy)")

        log.info("demo data loading in the background: the pipeline syncs the follows, then %d posts, %d "
                 "replies and reposts and %d pictures are written and fanned out (the log says when the whole "
                 "demo is readable)", len(self.plan.posts), len(self.plan.reactions), len(self.plan.pictures))
        def backlog() -> str:
            from infra.runtime.snapshot import stream_backlog

            waiting = {name.split("-")[-2] if name.count("-") >= 2 else name: n
                       for name, n in stream_backlog(pollers).items() if n}
            queued = self.loader.stores.fanout_backlog()
            return ", ".join([f"{n} {table} stream records" for table, n in sorted(waiting.items())]
                             + ([f"{queued} fan-out messages"] if queued else [])) + " to go"

        self.finisher = Finisher(self.loader, self.plan, api_url, wait_idle=pollers.wait_idle,
                                 on_posts=posts_written, on_pictures=pictures_done, on_done=done,
                                 backlog=backlog if self.embedded else None)
        self._pollers = pollers
        self.step = f"the pipeline is syncing {len(self.plan.follows):,} follows"
        self.finisher.start()

    def show_progress(self, out: Callable[[str], None], *, tty: bool) -> None:
        """The background load's progress until the demo is readable (infra.console.progress.DemoProgress),
        from the banner on: what it does, and the records through the pipeline (embedded emulator)."""
        from infra.console.progress import DemoProgress

        if self.finisher is None or not self.finisher.is_alive():
            return
        # The finisher's own "loading in the background" lines say less than the progress does.
        logging.getLogger("infra.console.demo_loader").addFilter(_no_background_lines)
        self.progress = DemoProgress(self._measure(), out, tty=tty, poll=1.0).start()

    def _measure(self) -> Callable[[], tuple[str, int, int]]:
        if not self.embedded:
            return lambda: (self.step, 0, 0)
        from infra.runtime.snapshot import _stream_shards, stream_checkpoints

        def handled() -> dict[str, int]:  # stream ARN -> sequence number handled so far
            checkpoints = stream_checkpoints(self._pollers)
            return {arn: checkpoints.get(arn, shard.starting_sequence_number - 1) for arn, _, shard in _stream_shards()}

        def waiting() -> int:
            from infra.runtime.snapshot import stream_backlog

            return sum(stream_backlog(self._pollers).values()) + (self.loader.stores.fanout_backlog() or 0)

        base = handled()

        def measure() -> tuple[str, int, int]:
            now = handled()
            done = sum(max(0, seq - base.get(arn, seq)) for arn, seq in now.items())
            return self.step, done, done + waiting()
        return measure

    def _close_progress(self) -> None:
        if self.progress is not None:
            self.progress.close()
            self.progress = None
        logging.getLogger("infra.console.demo_loader").removeFilter(_no_background_lines)

    def stop(self) -> None:
        self._close_progress()
        self.loader.cancelled.set()
        if self.finisher is not None:
            self.finisher.stop()
        self._thread.join(10.0)
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)


def _no_background_lines(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("demo data loading in the background")


def aws_cli(endpoint: str, region: str) -> str:
    """An AWS CLI command that works as printed on a fresh machine: the project's own `aws`
    (awscli, a dev dependency, in the virtualenv next to this Python), the emulator's root
    credentials (infra.runtime.emulator.FAKE_CREDENTIALS: any key works on LocalStack) and the
    stack's region, so neither ~/.aws nor an installed AWS CLI is needed."""
    from infra.runtime.emulator import FAKE_CREDENTIALS

    found = Path(sys.executable).parent / "aws"
    if found.exists():
        relative = os.path.relpath(found, Path.cwd())
        program = relative if not relative.startswith("..") else str(found)
    else:
        program = "aws"
    key = FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]
    secret = FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
    return (f"AWS_ACCESS_KEY_ID={shlex.quote(key)} AWS_SECRET_ACCESS_KEY={shlex.quote(secret)} "
            f"AWS_DEFAULT_REGION={shlex.quote(region)} {shlex.quote(program)} --endpoint-url {endpoint} "
            "dynamodb list-tables")


def banner(api: str, endpoint: str, embedded: bool, startup: float,
           report: demo.SeedReport | None, note: str = "", region: str = "us-east-1") -> str:
    q = shlex.quote
    token_cmd = (f"TOKEN=$(curl -s -X POST {api}/v1/auth/token -H 'content-type: application/json' "
                 f"-d {q(_json(handle=demo.DEMO_HANDLE if report else 'me', password=demo.DEMO_PASSWORD if report else 'change-me-123'))} "
                 "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')")
    lines = [
        "",
        f"Local stack is up (startup {startup:.1f}s" + (f", demo accounts {report.seconds:.1f}s)" if report else ")"),
        f"  Web       {api}/  (the web client)",
        f"  API       {api}",
        f"  Docs      {api}/v1/docs",
        f"  Emulator  {endpoint} ({'embedded moto' if embedded else 'external, from AWS_ENDPOINT_URL'})",
        f"  AWS CLI   {aws_cli(endpoint, region)}",
    ]
    if report:
        lines.append(f"  Login     handle {demo.DEMO_HANDLE!r}, password {demo.DEMO_PASSWORD!r} "
                     f"(every demo account has this password)")
    if note:
        lines.append(f"  {note}")
    if report:
        lines += ["", "Try it:", "  # sign in"]
    else:
        lines += ["", "Try it (no demo data: sign up first):",
                  f"  curl -s -X POST {api}/v1/auth/signup -H 'content-type: application/json' "
                  f"-d {q(_json(handle='me', password='change-me-123', display_name='Me'))}",
                  "  # sign in"]
    lines += [
        f"  {token_cmd}",
        "  # post",
        f"  curl -s -X POST {api}/v1/tweets -H \"authorization: Bearer $TOKEN\" "
        f"-H 'content-type: application/json' -d {q(_json(text='hello from make run'))}",
        "  # read the home timeline",
        f"  curl -s {api}/v1/timeline -H \"authorization: Bearer $TOKEN\"",
        "",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def _json(**fields: str) -> str:
    import json
    return json.dumps(fields, separators=(",", ":"))


def redrive(queue: str, stack_name: str, *, local: bool, limit: int | None) -> int:
    """`timeline redrive`: the queue's (fanout, media or all) dead letters back to it; 1 if one failed."""
    import boto3

    from infra.runtime.redrive import redrive_stack
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    endpoint = None
    if local:
        use_fake_credentials(region)
        endpoint = f"http://127.0.0.1:{EMULATOR_PORT}"
    which = ["fanout", "media"] if queue == "all" else [queue]
    results = redrive_stack(boto3.Session(region_name=region), stack_name, which, endpoint_url=endpoint,
                            limit=limit)
    return 1 if any(r.failed for r in results) else 0
