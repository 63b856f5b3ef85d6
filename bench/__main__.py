"""`python -m bench` (`make bench`): bench/run.py."""

import sys

from bench.run import main

sys.exit(main())
