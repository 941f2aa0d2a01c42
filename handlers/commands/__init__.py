"""One module (or package) per chatops command; each is registered once in ``handlers.COMMANDS``."""
