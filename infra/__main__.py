"""`python -m infra run ...` is `python -m infra.cli run ...`."""

import sys

from infra.cli import main

sys.exit(main())
