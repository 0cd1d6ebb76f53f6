"""The template's layers as `sam build` lays them out, for the local function workers.

A layer with code of its own (TimelineLayer: ContentUri layers/timeline, no BuildMethod) is
zipped as it is, so its `python/` folder is what Lambda mounts at /opt/python: the workers use
the folder in place, and an edit is live on the next cold start.

A layer built from requirements (DepsLayer: `Metadata.BuildMethod: python3.11`) is what
`pip install -r requirements.txt -t python/` makes of it. Locally that is built once into
`.local/layers/<LogicalId>-<hash>/python` and reused while requirements.txt, the interpreter
and the platform stay the same: the hash covers all three. The workers see nothing else from
the development virtualenv, so a function importing moto, requests or PyJWT fails with
Runtime.ImportModuleError here as it would deployed.

The cloud build differs only in the platform: sam build fetches manylinux aarch64 wheels for
`BuildArchitecture: arm64`, this build the wheels of the machine it runs on (the same
versions, which is what the functions can tell apart).

    python -m infra.runtime.layers      # build (or find) every requirements layer; `make` runs it
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger("infra.runtime.layers")

ROOT = Path(__file__).resolve().parents[2]
BUILD_ROOT = ROOT / ".local" / "layers"


class LayerBuildError(RuntimeError):
    pass


def layer_paths(sam: dict[str, Any], logical_id: str) -> list[str]:
    """What Lambda puts on the function's sys.path from its layers (Globals' first, as SAM
    merges them): each layer's `python/` folder, built if it is built from requirements."""
    resources = sam.get("Resources", {})
    layers = list(sam.get("Globals", {}).get("Function", {}).get("Layers", []))
    layers += resources.get(logical_id, {}).get("Properties", {}).get("Layers", [])
    found = []
    for layer in layers:
        ref = layer.get("Ref") if isinstance(layer, dict) else None
        folder = python_folder(sam, ref) if ref in resources else None
        if folder is not None:
            found.append(str(folder))
    return found


def python_folder(sam: dict[str, Any], layer_id: str) -> Path | None:
    """The layer's `python/` folder as Lambda would mount it, or None for a layer with no
    local source (an ARN or an s3:// URI)."""
    resource = sam["Resources"][layer_id]
    uri = resource.get("Properties", {}).get("ContentUri")
    if not isinstance(uri, str) or uri.startswith("s3://"):
        return None
    source = ROOT / uri
    build_method = str(resource.get("Metadata", {}).get("BuildMethod", ""))
    if build_method.startswith("python"):
        return build_requirements_layer(layer_id, source / "requirements.txt")
    folder = source / "python"
    return folder if folder.is_dir() else None


def _fingerprint(requirements: Path) -> str:
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(f"{sys.implementation.cache_tag} {platform.machine()} {sys.platform}".encode())
    return digest.hexdigest()[:16]


def build_requirements_layer(layer_id: str, requirements: Path) -> Path:
    """`pip install -r requirements -t <layer>/python`, once per fingerprint. Safe against
    concurrent builders (a file lock) and interrupted ones (built aside, renamed into place)."""
    target = BUILD_ROOT / f"{layer_id}-{_fingerprint(requirements)}"
    folder = target / "python"
    if folder.is_dir():
        return folder
    BUILD_ROOT.mkdir(parents=True, exist_ok=True)
    with open(BUILD_ROOT / f".{layer_id}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if folder.is_dir():  # built by whoever held the lock before us
            return folder
        log.info("building %s from %s (once; cached in %s)", layer_id,
                 requirements.relative_to(ROOT), target.relative_to(ROOT))
        staging = Path(tempfile.mkdtemp(prefix=f".{layer_id}-", dir=BUILD_ROOT))
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   "--no-input", "--only-binary=:all:", "--target", str(staging / "python"),
                   "-r", str(requirements)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise LayerBuildError(f"building {layer_id} failed ({' '.join(command)}):\n"
                                  f"{done.stderr.strip() or done.stdout.strip()}")
        for stale in BUILD_ROOT.glob(f"{layer_id}-*"):  # older requirements: nobody mounts them
            shutil.rmtree(stale, ignore_errors=True)
        staging.rename(target)
    return folder


def build_all(sam: dict[str, Any]) -> dict[str, Path]:
    """Build every requirements layer of the template; logical id -> its python/ folder."""
    built = {}
    for layer_id, resource in sam.get("Resources", {}).items():
        if resource.get("Type") in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
            folder = python_folder(sam, layer_id)
            if folder is not None:
                built[layer_id] = folder
    return built


if __name__ == "__main__":
    from infra.runtime.template import load_sam

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for layer_id, folder in build_all(load_sam()).items():
        print(f"{layer_id}: {folder.relative_to(ROOT)}")
