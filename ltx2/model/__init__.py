"""Network definitions, each built from its section of a checkpoint's ``__metadata__["config"]``."""
