"""The machinery behind infra.runtime.moto_fixes: a Fix names what it changes in moto, and
a Registry applies a list of them, once, to the moto it was tested with.

Modelled on localstack's localstack/utils/patch.py (a Patch refuses a missing target and
records every patch applied, and can be undone), with two differences that the emulator's
fixes need:

- A target may be changed by several fixes (DynamoDB's Query is billed, limited per
  partition and narrowed to one partition by four of them). It is still wrapped once: the
  fixes' layers are composed in one wrapper, in the order the registry is given for that
  target (outermost first), never in the order the fixes happen to be applied.
- Applying checks `moto.__version__` against the version the fixes were tested with and
  refuses another one, unless TIMELINE_MOTO_UNTESTED says to try it (then it warns).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["correctness", "speed", "feature"]
KINDS = ("correctness", "speed", "feature")
UNTESTED_ENV = "TIMELINE_MOTO_UNTESTED"  # "1", or the moto version to allow: apply anyway, with a warning
SKIP_ENV = "TIMELINE_MOTO_SKIP"  # comma-separated names of speed fixes to leave out (to measure them)
_UNSET = object()


class FixError(RuntimeError):
    """A fix cannot be applied to the moto installed: a target is missing, or the version differs."""


@dataclass(frozen=True)
class Patch:
    """One change to one moto attribute.

    target: "package.module.Class.attribute" or "package.module.attribute".
    wrap: a layer, called as wrap(inner, *args, **kwargs) where inner is what lies beneath it
        (moto's own attribute, or a replacement) and args are the target's (self included).
    value: a replacement for moto's attribute (a function, a property, a module object).
    new: the attribute does not exist in moto (an API moto lacks): refused if moto has it.
    """

    target: str
    wrap: Callable[..., Any] | None = None
    value: Any = _UNSET
    new: bool = False

    def __post_init__(self) -> None:
        if (self.wrap is None) == (self.value is _UNSET):
            raise ValueError(f"patch of {self.target}: give exactly one of wrap= or value=")
        if self.new and self.wrap is not None:
            raise ValueError(f"patch of {self.target}: a new attribute has nothing to wrap")


@dataclass(frozen=True)
class Fix:
    """A moto behaviour that differs from AWS (correctness), that the emulator adds (feature),
    or that costs more than the local runtime can afford (speed), and the patches that change it."""

    name: str
    kind: Kind
    reason: str  # one line: what moto does, and why it matters here
    patches: tuple[Patch, ...]
    issue: str | None = None  # "getmoto/moto#1234" where moto has an issue or PR for it

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"fix {self.name}: kind {self.kind!r} is not one of {KINDS}")
        if not self.patches:
            raise ValueError(f"fix {self.name}: no patches")


def resolve(target: str) -> tuple[Any, str]:
    """(the object holding the attribute, the attribute's name) for a dotted target: the
    longest importable module prefix, then attributes."""
    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:-1]:
            owner = getattr(owner, name)  # AttributeError: the caller names the target
        return owner, parts[-1]
    raise ImportError(f"no module in {target}")


@dataclass
class _Installed:
    owner: Any
    name: str
    had_own: bool  # the owner had the attribute in its own __dict__ (not inherited)
    original: Any  # what was there (getattr_static), restored by undo
    fixes: tuple[str, ...]


@dataclass
class Registry:
    """The fixes, and for each target wrapped by more than one, the order of its layers."""

    fixes: list[Fix]
    order: dict[str, list[str]]  # target -> names of the fixes that wrap it, outermost first
    tested_version: str
    applied: list[Fix] = field(default_factory=list)
    _installed: list[_Installed] = field(default_factory=list)

    def check_version(self, version: str) -> None:
        if version == self.tested_version:
            return
        allowed = os.environ.get(UNTESTED_ENV, "")
        if allowed in ("1", version):
            warnings.warn(f"moto {version} is installed; infra.runtime.moto_fixes was tested with moto "
                          f"{self.tested_version}; applying the fixes anyway ({UNTESTED_ENV}={allowed})",
                          RuntimeWarning, stacklevel=3)
            return
        raise FixError(
            f"moto {version} is installed, but infra.runtime.moto_fixes was tested with moto {self.tested_version}. "
            f"Install moto=={self.tested_version}, or set {UNTESTED_ENV}=1 (or ={version}) to try the fixes on "
            f"this moto; a fix whose target moved is then refused by name.")

    def selected(self, skip: Iterable[str] = ()) -> list[Fix]:
        skip = {name.strip() for name in skip if name.strip()}
        by_name = {fix.name: fix for fix in self.fixes}
        for name in skip:
            if name not in by_name:
                raise FixError(f"{SKIP_ENV}: no fix is named {name!r}")
            if by_name[name].kind != "speed":
                raise FixError(f"{SKIP_ENV}: {name} is a {by_name[name].kind} fix; only speed fixes can be left out")
        return [fix for fix in self.fixes if fix.name not in skip]

    def apply(self, version: str, skip: Iterable[str] = ()) -> None:
        """Apply every fix (but those skipped), once; a second call does nothing. Every target
        is found before anything is changed, so a refusal leaves moto as it was."""
        if self.applied:
            return
        self.check_version(version)
        fixes = self.selected(skip)
        plans = self._plan(fixes, version)
        for owner, name, fix_names, base_value, layers in plans.values():
            had_own = name in getattr(owner, "__dict__", {})
            original = inspect.getattr_static(owner, name) if had_own else _UNSET
            if layers:
                base = base_value if base_value is not _UNSET else getattr(owner, name)
                value = _composed(base, layers)
                value.__moto_fixes__ = fix_names  # type: ignore[attr-defined]
            else:
                value = base_value
            setattr(owner, name, value)
            self._installed.append(_Installed(owner, name, had_own, original, fix_names))
        self.applied = list(fixes)

    def undo(self) -> None:
        """Put back every attribute as moto had it, in reverse order."""
        for installed in reversed(self._installed):
            if installed.had_own:
                setattr(installed.owner, installed.name, installed.original)
            else:
                delattr(installed.owner, installed.name)  # inherited, or added by a fix
        self._installed.clear()
        self.applied = []

    def _plan(self, fixes: list[Fix], version: str) -> dict[str, tuple]:
        """target -> (owner, name, fix names, replacement or _UNSET, layers outermost first)."""
        by_target: dict[str, list[tuple[Fix, Patch]]] = {}
        for fix in fixes:
            for patch in fix.patches:
                by_target.setdefault(patch.target, []).append((fix, patch))
        plans = {}
        for target, entries in by_target.items():
            try:
                owner, name = resolve(target)
            except (ImportError, AttributeError) as error:
                raise FixError(f"fix {entries[0][0].name}: target {target} is missing in moto {version} "
                               f"(the fixes were tested with moto {self.tested_version}): {error}") from None
            exists = hasattr(owner, name)
            for fix, patch in entries:
                if patch.new and exists:
                    raise FixError(f"fix {fix.name}: {target} already exists in moto {version}: moto may now do "
                                   f"what the fix adds; check it and drop or change the fix")
                if not patch.new and not exists:
                    raise FixError(f"fix {fix.name}: target {target} is missing in moto {version} "
                                   f"(the fixes were tested with moto {self.tested_version})")
            replacements = [(fix, patch) for fix, patch in entries if patch.value is not _UNSET]
            if len(replacements) > 1:
                raise FixError(f"{target} is replaced by more than one fix: {[f.name for f, _ in replacements]}")
            wrappers = {fix.name: patch.wrap for fix, patch in entries if patch.wrap is not None}
            stated = self.order.get(target)
            if len(wrappers) > 1 or stated is not None:
                unnamed = sorted(set(wrappers) - set(stated or ()))
                if unnamed:
                    raise FixError(f"{target} is wrapped by {sorted(wrappers)}: its order must name every one "
                                   f"(outermost first); not named: {unnamed}")
                unknown = sorted(set(stated) - {f.name for f in self.fixes})
                if unknown:
                    raise FixError(f"the order of {target} names fixes that do not exist: {unknown}")
                layers = [wrappers[name] for name in stated if name in wrappers]
            else:
                layers = list(wrappers.values())
            base = replacements[0][1].value if replacements else _UNSET
            plans[target] = (owner, name, tuple(fix.name for fix, _ in entries), base, layers)
        return plans


def _composed(base: Any, layers: list[Callable[..., Any]]) -> Callable[..., Any]:
    """One function: layers[0](layers[1](... base)), each layer called as layer(inner, *args)."""
    call = base
    for layer in reversed(layers):
        call = functools.partial(layer, call)

    @functools.wraps(base)
    def patched(*args: Any, **kwargs: Any) -> Any:
        return call(*args, **kwargs)

    return patched
