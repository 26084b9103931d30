"""The program's name in messages and its exit codes: one place for both.

0 success; 1 ``validate`` found a violation; 2 usage error (a bad flag or verb, an
unreadable ``--events`` or ``--file``); 3 the command could not do its work (the config
could not be written); 130 interrupted by Ctrl-C. ``--first-run`` and ``send`` exit 0
whatever happens (``send``: but for its usage errors), so that they never fail Shimmy.
"""

PROG = "shimmy-onboard"

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_USAGE = 2
EXIT_FAILED = 3
EXIT_INTERRUPTED = 130
