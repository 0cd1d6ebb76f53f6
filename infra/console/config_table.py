"""docs/operations.md's configuration table, generated from template.yaml's Parameters.

    python -m infra.console.config_table            # print the table
    python -m infra.console.config_table --write    # rewrite docs/operations.md between the markers
    python -m infra.console.config_table --check    # exit 1 if docs/operations.md's table is stale

One row per parameter, in the template's order: its name, default, the values it may take
(AllowedValues, MinValue/MaxValue, MinLength/MaxLength, AllowedPattern), the environment
variables it feeds and its Description folded to one line. A parameter feeds a variable when
the variable's value (in Globals.Function.Environment.Variables: every function; or in one
function's own Environment) refers to it: `!Ref Name`, `${Name}` in a `!Sub`, or an `!If` on a
condition that refers to it (Stage -> IsProd -> AUTO_CONFIRM_SIGNUPS).

`tests/unit/test_readme_config_table.py` fails when docs/operations.md's table is not exactly what
this renders: change the template, then run `python -m infra.console.config_table --write`.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from infra.runtime.template import ROOT, load_sam

TABLE_PATH = ROOT / "docs" / "operations.md"  # the page that holds the table
BEGIN = "<!-- config-table:begin -->"
END = "<!-- config-table:end -->"
HEADER = ("parameter", "default", "allowed", "environment variable", "meaning")


def render(sam: dict[str, Any]) -> str:
    """The Markdown table of the template's Parameters (ends with a newline)."""
    feeds = parameter_feeds(sam)
    rows = [HEADER, ("---",) * len(HEADER)]
    for name, spec in (sam.get("Parameters") or {}).items():
        rows.append((
            f"`{name}`",
            f"`{spec['Default']}`" if "Default" in spec else "(required)",
            allowed(spec),
            ", ".join(feeds.get(name, [])) or "-",
            fold(spec.get("Description", "")),
        ))
    return "".join("| " + " | ".join(_cell(c) for c in row) + " |\n" for row in rows)


def allowed(spec: dict[str, Any]) -> str:
    """The values a parameter may take, as its constraints say; '-' when it has none."""
    parts = []
    if "AllowedValues" in spec:
        parts.append(", ".join(f"`{v}`" for v in spec["AllowedValues"]))
    parts.append(_range(spec.get("MinValue"), spec.get("MaxValue"), ""))
    parts.append(_range(spec.get("MinLength"), spec.get("MaxLength"), " characters"))
    if "AllowedPattern" in spec:
        parts.append(f"matches `{spec['AllowedPattern']}`")
    return "; ".join(p for p in parts if p) or "-"


def _range(low: Any, high: Any, unit: str) -> str:
    if low is not None and high is not None:
        return f"`{low}` to `{high}`{unit}"
    if low is not None:
        return f"at least `{low}`{unit}"
    if high is not None:
        return f"at most `{high}`{unit}"
    return ""


def fold(text: str) -> str:
    """A Description on one line (YAML's folded blocks keep a trailing newline)."""
    return " ".join(str(text).split())


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def parameter_feeds(sam: dict[str, Any]) -> dict[str, list[str]]:
    """Parameter name -> the environment variables it feeds, each as Markdown: `VAR` when every
    function gets it (Globals), `VAR` (Function, ...) when only some functions set it."""
    params = list(sam.get("Parameters") or {})
    conditions = sam.get("Conditions") or {}
    global_vars = _variables(sam.get("Globals", {}).get("Function", {}))
    functions = [(logical_id, _variables(res.get("Properties") or {}))
                 for logical_id, res in (sam.get("Resources") or {}).items()
                 if res.get("Type") == "AWS::Serverless::Function"]
    feeds: dict[str, list[str]] = {}
    for param in params:
        found = [f"`{var}`" for var, value in global_vars.items() if _refers_to(value, param, conditions)]
        local: dict[str, list[str]] = {}  # variable -> the functions whose own Environment sets it
        for logical_id, variables in functions:
            for var, value in variables.items():
                if _refers_to(value, param, conditions) and f"`{var}`" not in found:
                    local.setdefault(var, []).append(logical_id)
        found += [f"`{var}` ({', '.join(owners)})" for var, owners in local.items()]
        if found:
            feeds[param] = found
    return feeds


def _variables(props: dict[str, Any]) -> dict[str, Any]:
    return (props.get("Environment") or {}).get("Variables") or {}


def _refers_to(value: Any, param: str, conditions: dict[str, Any], seen: frozenset[str] = frozenset()) -> bool:
    """Whether a (parsed) template value depends on the parameter."""
    if isinstance(value, dict):
        if value.get("Ref") == param:
            return True
        if "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            text = sub[0] if isinstance(sub, list) else sub
            if isinstance(text, str) and re.search(r"\$\{" + re.escape(param) + r"\}", text):
                return True
        for key in ("Fn::If", "Condition"):
            cond = value.get(key)
            name = cond[0] if key == "Fn::If" and isinstance(cond, list) and cond else cond
            if (isinstance(name, str) and name in conditions and name not in seen
                    and _refers_to(conditions[name], param, conditions, seen | {name})):
                return True
        return any(_refers_to(v, param, conditions, seen) for v in value.values())
    if isinstance(value, list):
        return any(_refers_to(v, param, conditions, seen) for v in value)
    return False


def block(table: str) -> str:
    """The page's text from the begin marker to the end marker, both included."""
    return f"{BEGIN}\n\n{table}\n{END}"


def current_block(readme: str) -> str | None:
    """The page's text from the begin marker to the end marker, or None without both markers."""
    start = readme.find(BEGIN)
    stop = readme.find(END, start + len(BEGIN)) if start >= 0 else -1
    if start < 0 or stop < 0:
        return None
    return readme[start:stop + len(END)]


def rewrite(readme: str, table: str) -> str:
    found = current_block(readme)
    if found is None:
        raise ValueError(f"{TABLE_PATH.name} has no {BEGIN} ... {END} markers")
    return readme.replace(found, block(table), 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.console.config_table", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite docs/operations.md between the markers")
    mode.add_argument("--check", action="store_true", help="exit 1 if docs/operations.md's table is stale")
    args = parser.parse_args(argv)
    table = render(load_sam())
    if not (args.write or args.check):
        sys.stdout.write(table)
        return 0
    readme = TABLE_PATH.read_text()
    updated = rewrite(readme, table)
    if args.check:
        if updated != readme:
            print("docs/operations.md's configuration table is stale: run python -m infra.console.config_table --write",
                  file=sys.stderr)
            return 1
        return 0
    if updated != readme:
        TABLE_PATH.write_text(updated)
        print(f"rewrote the configuration table in {TABLE_PATH.relative_to(ROOT)}")
    else:
        print("docs/operations.md's configuration table is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
