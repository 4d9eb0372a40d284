"""`ray start --address 127.0.0.1:PORT ...` for a worker node that stays on 127.0.0.1 (tests only).

Ray keeps a cluster on the loopback address only with RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, and then
`ray start` refuses to add a worker node. This wrapper passes that check and keeps 127.0.0.1 as the
node's address instead of the machine's outward one, so the test cluster never listens elsewhere.
"""

import sys

import ray._private.ray_constants as ray_constants
import ray._private.services as services
from ray.scripts.scripts import main

ray_constants.ENABLE_RAY_CLUSTER = True  # only ray start's multi-node check reads it after this point
services.resolve_ip_for_localhost = lambda host: host

if __name__ == "__main__":
    sys.argv[0] = "ray"
    main()
