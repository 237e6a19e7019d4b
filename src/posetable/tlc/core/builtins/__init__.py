"""3LC's ``tlc.core.builtins``: constants and schemas."""
