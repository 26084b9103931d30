"""The TUI's deterministic states: shared by the snapshot tests and ``make screenshots``."""
