"""`ConfigError`: a bad augmentation setting, reported by the `simclr` command as a one-line error."""


class ConfigError(ValueError):
    """An augmentation option out of range or inconsistent; the message names the option and the fix."""


def check_probability(p: float, owner: str) -> None:
    """ConfigError unless 0 <= p <= 1."""
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"{owner} p must be a probability in [0, 1], got {p}")
