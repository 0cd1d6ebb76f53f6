"""`python -m infra.runtime.moto_fixes`: apply the fixes to the moto installed and list them."""

from __future__ import annotations

import moto

from infra.runtime import moto_fixes


def main() -> None:
    moto_fixes.apply()
    fixes = moto_fixes.applied()
    print(f"moto {moto.__version__} (tested: {moto_fixes.TESTED_MOTO_VERSION}): {len(fixes)} fixes applied")
    for fix in fixes:
        targets = ", ".join(patch.target.removeprefix("moto.") for patch in fix.patches)
        print(f"\n{fix.name}  [{fix.kind}]  {fix.issue or 'no moto issue found'}\n  {fix.reason}\n  changes: {targets}")


if __name__ == "__main__":
    main()
