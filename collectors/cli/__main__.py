"""`python -m collectors.cli`: the `costperf` command."""

from collectors.cli import main

if __name__ == "__main__":
    main()
