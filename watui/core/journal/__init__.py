"""What happened, and who is told: the journal on disk, its report, the live history service and the alerts."""
