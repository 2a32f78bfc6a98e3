"""``python -m service --host 127.0.0.1 --port 8000 --data-dir DIR [--workers N]``."""

import argparse
import sys

from .server import serve


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m service", description="Run the bayesreg JSON service.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--data-dir", default="bayesreg-data")
    parser.add_argument("--workers", type=int, default=None, help="sampling worker processes")
    args = parser.parse_args(argv)
    return serve(args.host, args.port, args.data_dir, args.workers)


if __name__ == "__main__":
    sys.exit(main())
