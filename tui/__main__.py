"""`python -m tui` is the same as the `steadychat` command."""

from tui.cli import main

if __name__ == "__main__":
    main()
