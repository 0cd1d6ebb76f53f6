"""Code reload for the local stack: edit a handler, and the next invocation runs the new code.

A background thread watches (watchfiles) every folder the function workers import code from,
as template.yaml names them: each function's CodeUri, and the `python/` folder of each layer
with code of its own (ContentUri, no BuildMethod). When files change, the functions that load
code from there get fresh workers (LocalFunctions.reload): idle workers are replaced at once,
busy ones as soon as their invocation returns, so no request is cut short. A layer change
reloads every function that uses the layer (TimelineLayer: all of them).

    reloaded ApiFunction (functions/api/app.py changed)

What it does not do: a layer built from requirements (DepsLayer) is built when the stack
starts, so a change to its requirements.txt is only reported (restart to rebuild); a change
to template.yaml (routes, environment, new functions) needs a restart too. Module state lives
in the workers, so a reload is a cold start for each function: what the old workers cached is
gone, what is stored in the emulator stays.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("infra.runtime.reloader")

ROOT = Path(__file__).resolve().parents[2]
LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")


class Reloadable(Protocol):  # infra.runtime.functions.LocalFunctions
    @property
    def function_ids(self) -> list[str]: ...

    def reload(self, logical_ids: list[str]) -> list[str]: ...


def code_folders(sam: dict[str, Any], function_ids: Iterable[str], root: Path = ROOT) -> dict[Path, set[str]]:
    """Folder -> the functions whose workers import code from it: each function's CodeUri
    (Globals' if it has none) and the `python/` folder of each of its layers (Globals' and its
    own) that has local code and no BuildMethod."""
    resources = sam.get("Resources", {})
    glob = sam.get("Globals", {}).get("Function", {})
    folders: dict[Path, set[str]] = {}
    for lid in function_ids:
        props = resources.get(lid, {}).get("Properties", {})
        code = props.get("CodeUri", glob.get("CodeUri"))
        if _local(code):
            folders.setdefault((root / code).resolve(), set()).add(lid)
        for ref in _layer_refs(glob, props):
            layer = resources.get(ref, {})
            uri = layer.get("Properties", {}).get("ContentUri")
            if layer.get("Type") in LAYER_TYPES and _local(uri) and not _built(layer):
                folders.setdefault((root / uri / "python").resolve(), set()).add(lid)
    return {folder: ids for folder, ids in folders.items() if folder.is_dir()}


def built_layer_sources(sam: dict[str, Any], root: Path = ROOT) -> dict[Path, str]:
    """Folder -> logical id of each layer built from requirements (Metadata.BuildMethod): the
    workers use what was built at startup, so a change there needs a restart."""
    return {(root / res["Properties"]["ContentUri"]).resolve(): lid
            for lid, res in sam.get("Resources", {}).items()
            if res.get("Type") in LAYER_TYPES and _built(res)
            and _local(res.get("Properties", {}).get("ContentUri"))}


def _local(uri: Any) -> bool:
    return isinstance(uri, str) and bool(uri) and not uri.startswith("s3://")


def _built(layer: dict[str, Any]) -> bool:
    return bool(layer.get("Metadata", {}).get("BuildMethod"))


def _layer_refs(glob: dict[str, Any], props: dict[str, Any]) -> list[str]:
    layers = [*glob.get("Layers", []), *props.get("Layers", [])]
    return [layer["Ref"] for layer in layers if isinstance(layer, dict) and isinstance(layer.get("Ref"), str)]


class Reloader:
    """Watches code folders and reloads the functions that use them (see the module docstring).

        reloader = Reloader.for_template(sam, functions).start()
        ...
        reloader.stop()
    """

    def __init__(self, functions: Reloadable, folders: dict[Path, set[str]], *,
                 built_layers: dict[Path, str] | None = None, root: Path = ROOT):
        self.functions = functions
        self.folders = folders
        self.built_layers = built_layers or {}
        self.root = root
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @classmethod
    def for_template(cls, sam: dict[str, Any], functions: Reloadable, root: Path = ROOT) -> Reloader:
        return cls(functions, code_folders(sam, functions.function_ids, root),
                   built_layers=built_layer_sources(sam, root), root=root)

    def describe_folders(self) -> list[str]:
        return sorted(self._relative(folder) for folder in self.folders)

    # ----------------------------------------------------------------------- the mapping
    def affected(self, paths: Iterable[str | Path]) -> dict[str, list[str]]:
        """Function logical id -> the changed files (relative to the project) that concern it."""
        found: dict[str, list[str]] = {}
        for path in paths:
            resolved = Path(path).resolve()
            for folder, ids in self.folders.items():
                if resolved.is_relative_to(folder):
                    for lid in ids:
                        files = found.setdefault(lid, [])
                        if self._relative(resolved) not in files:
                            files.append(self._relative(resolved))
        return {lid: sorted(files) for lid, files in found.items()}

    def apply(self, paths: Iterable[str | Path]) -> dict[str, list[str]]:
        """Reload the functions that `paths` concern; what was reloaded, and why."""
        paths = list(paths)
        affected = self.affected(paths)
        for lid, files in sorted(affected.items()):
            self.functions.reload([lid])
            log.info("reloaded %s (%s changed)", lid, _summary(files))
        for folder, layer_id in self.built_layers.items():
            changed = sorted({self._relative(p) for p in paths if Path(p).resolve().is_relative_to(folder)})
            if changed:
                log.warning("%s changed: %s is built from it when the stack starts; restart to rebuild it",
                            _summary(changed), layer_id)
        return affected

    def _relative(self, path: Path) -> str:
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)

    # ----------------------------------------------------------------------- the thread
    def start(self) -> Reloader:
        self._thread = threading.Thread(target=self._watch, name="reloader", daemon=True)
        self._thread.start()
        return self

    def wait_ready(self, timeout: float = 5.0) -> bool:
        """Block until the watches are in place (tests: a change made before would be missed)."""
        return self._ready.wait(timeout)

    def _watch(self) -> None:
        from watchfiles import DefaultFilter, watch

        watched = [str(folder) for folder in [*self.folders, *self.built_layers] if folder.is_dir()]
        if not watched:
            self._ready.set()
            return
        try:
            # yield_on_timeout: the first (empty) yield says the watches are set up.
            for changes in watch(*watched, watch_filter=DefaultFilter(), stop_event=self._stop,
                                 rust_timeout=500, yield_on_timeout=True, raise_interrupt=False):
                self._ready.set()
                if changes:
                    try:
                        self.apply(path for _, path in changes)
                    except Exception:  # a reload that failed must not end the watching
                        log.exception("reload failed")
        except Exception:
            log.exception("code reload stopped: the watcher failed")
        finally:
            self._ready.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)


def _summary(files: list[str], show: int = 3) -> str:
    if len(files) <= show:
        return ", ".join(files)
    return f"{', '.join(files[:show])} and {len(files) - show} more"
