"""Job entrypoint, identical in every environment:

    python -m jobs run --spec SPEC.json --data DIR --out DIR [--weights DIR]

`--spec`/`--out` may repeat (pairs, in order): seeds of one experiment, trained in one process,
each written to its own folder as if it had run alone.

Exit 0 on success; otherwise a one-line reason on stderr (traceback, if any, goes to stdout/log).
"""

import argparse
import sys
import traceback
from pathlib import Path

from jobs.common.errors import JobError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one experiment spec")
    run.add_argument("--spec", type=Path, required=True, action="append")
    run.add_argument("--data", type=Path, required=True)
    run.add_argument("--out", type=Path, required=True, action="append")
    run.add_argument("--weights", type=Path, default=None)
    args = parser.parse_args(argv)

    if len(args.spec) != len(args.out):
        parser.error(f"--spec and --out must come in pairs, got {len(args.spec)} and {len(args.out)}")

    from jobs.common.runner import run_job, run_seed_group

    try:
        if len(args.spec) == 1:
            run_job(args.spec[0], args.data, args.out[0], args.weights)
        else:
            run_seed_group(args.spec, args.data, args.out, args.weights)
    except JobError as exc:
        print(f"job failed: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except Exception as exc:  # report, never a silent partial
        traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()
        reason = " ".join(str(exc).split())[:300]
        print(f"job failed: {type(exc).__name__}: {reason}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
