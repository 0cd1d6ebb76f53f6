"""The local runtime: what stands in for AWS on a laptop, no Docker.

The embedded emulator (moto, emulator.py) with its fixes (moto_fixes/, a registry of them), the template
reader and deployer (template.py, deployer.py), the functions' dependency layer (layers.py),
the Lambda-like workers (functions.py), the event-source mapping pollers (pollers.py), the API
Gateway stand-in (gateway.py, with the web client: static_site.py), snapshots (snapshot.py),
dead-letter redrive (redrive.py), code reload (reloader.py) and fault injection
(dynamodb_faults.py, pollers.DeliveryFaults).

It knows nothing of the product (`timeline`) nor of the benchmark (`bench`): import-linter's
contracts in pyproject.toml hold it to that. Its face, the names below, is what the benchmark
and the tests use (bench/ imports nothing else of infra). The names load on first use, so that
importing one small module of the runtime (the emulator's port check, say) does not import
the SAM translator and boto3.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the face, for readers and type checkers
    from infra.runtime.dynamodb_faults import dynamodb_faults as injected_dynamodb_faults
    from infra.runtime.dynamodb_faults import set_dynamodb_faults
    from infra.runtime.emulator import FAKE_CREDENTIALS, Emulator, EmulatorError, use_fake_credentials
    from infra.runtime.functions import DYNAMODB_READS, DYNAMODB_WRITES, FunctionError, Invocation
    from infra.runtime.local_stack import LocalStack, Recorder, write_ready_file
    from infra.runtime.moto_fixes.capacity import item_size
    from infra.runtime.moto_fixes.partitions import partition_usage, reset_partition_usage, set_partition_limits
    from infra.runtime.pollers import DeliveryFaults
    from infra.runtime.redrive import QUEUES as REDRIVE_QUEUES
    from infra.runtime.redrive import redrive as redrive_dead_letters
    from infra.runtime.template import load_sam as load_template

_FACE = {
    "set_dynamodb_faults": ("infra.runtime.dynamodb_faults", "set_dynamodb_faults"),
    "injected_dynamodb_faults": ("infra.runtime.dynamodb_faults", "dynamodb_faults"),
    "FAKE_CREDENTIALS": ("infra.runtime.emulator", "FAKE_CREDENTIALS"),
    "Emulator": ("infra.runtime.emulator", "Emulator"),
    "EmulatorError": ("infra.runtime.emulator", "EmulatorError"),
    "use_fake_credentials": ("infra.runtime.emulator", "use_fake_credentials"),
    "DYNAMODB_READS": ("infra.runtime.functions", "DYNAMODB_READS"),
    "DYNAMODB_WRITES": ("infra.runtime.functions", "DYNAMODB_WRITES"),
    "FunctionError": ("infra.runtime.functions", "FunctionError"),
    "Invocation": ("infra.runtime.functions", "Invocation"),
    "LocalStack": ("infra.runtime.local_stack", "LocalStack"),
    "Recorder": ("infra.runtime.local_stack", "Recorder"),
    "write_ready_file": ("infra.runtime.local_stack", "write_ready_file"),
    "item_size": ("infra.runtime.moto_fixes.capacity", "item_size"),
    "partition_usage": ("infra.runtime.moto_fixes.partitions", "partition_usage"),
    "reset_partition_usage": ("infra.runtime.moto_fixes.partitions", "reset_partition_usage"),
    "set_partition_limits": ("infra.runtime.moto_fixes.partitions", "set_partition_limits"),
    "DeliveryFaults": ("infra.runtime.pollers", "DeliveryFaults"),
    "REDRIVE_QUEUES": ("infra.runtime.redrive", "QUEUES"),
    "redrive_dead_letters": ("infra.runtime.redrive", "redrive"),
    "load_template": ("infra.runtime.template", "load_sam"),
}
__all__ = [  # the face (ruff reads this list; _FACE says where each name lives)
    "DYNAMODB_READS",
    "DYNAMODB_WRITES",
    "FAKE_CREDENTIALS",
    "REDRIVE_QUEUES",
    "DeliveryFaults",
    "Emulator",
    "EmulatorError",
    "FunctionError",
    "Invocation",
    "LocalStack",
    "Recorder",
    "injected_dynamodb_faults",
    "item_size",
    "load_template",
    "partition_usage",
    "redrive_dead_letters",
    "reset_partition_usage",
    "set_dynamodb_faults",
    "set_partition_limits",
    "template_defaults",
    "use_fake_credentials",
    "write_ready_file",
]


def __getattr__(name: str) -> Any:
    if name not in _FACE:
        raise AttributeError(f"module 'infra.runtime' has no attribute {name!r}")
    module, attribute = _FACE[name]
    return getattr(importlib.import_module(module), attribute)


def template_defaults() -> dict[str, str]:
    """template.yaml's parameters and their defaults."""
    from infra.runtime.template import load_sam, parameter_defaults

    return parameter_defaults(load_sam())
