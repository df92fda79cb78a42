import os
import sys

from .cli import main

code = main()
if os.environ.get("WORLD_SIZE", "1").strip() not in ("", "1"):
    # A torchrun worker whose files are all written ends here without running the C++ destructors: after a
    # SIGTERM, one of torch's threads was sometimes still joinable at exit, and the worker aborted (SIGABRT)
    # after a clean stop, failing the whole torchrun.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
