"""The session's lifecycle: the manager, its verbs, recovery, liveness, auto-snapshots, the launch gate, events."""
