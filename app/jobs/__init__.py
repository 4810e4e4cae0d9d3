"""Long-running work started from the command line, outside any web request: each module shares one job out
to processes, shows its progress and writes its report, and leaves the work itself to ``app.services``."""
