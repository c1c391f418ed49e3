"""`ConfigError`: a bad augmentation setting, reported by the `simclr` command as a one-line error."""


class ConfigError(ValueError):
    """An augmentation option out of range or inconsistent; the message names the option and the fix."""


def check_probability(p: float, owner: str, name: str = "p") -> None:
    """ConfigError unless 0 <= p <= 1 (NaN included)."""
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"{owner} {name} must be a probability in [0, 1], got {p}")


def check_range(values: tuple[float, float], owner: str, name: str) -> None:
    """ConfigError unless `values` is (low, high) with 0 < low <= high, both finite (a crop's scale or ratio)."""
    low, high = (float(v) for v in values)
    if not (0 < low <= high < float("inf")):
        raise ConfigError(
            f"{owner} {name} must be a range (low, high) with 0 < low <= high, got ({low:g}, {high:g}); "
            f"e.g. [{min(abs(low), abs(high)) or 0.08:g}, {max(abs(low), abs(high)):g}]"
        )


def check_size(size: int, owner: str) -> None:
    """ConfigError unless `size` is a side length of at least one pixel."""
    if not size >= 1:
        raise ConfigError(f"{owner} size must be >= 1 pixel, got {size}; use the encoder's input size (e.g. 28)")
