"""Background work that runs exactly once across every worker and replica: the timer driver."""
