"""Safety checks and traceability around flag changes (SPEC §5-§6)."""
