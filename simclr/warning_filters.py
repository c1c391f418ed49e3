"""Warnings that say nothing to our users, hidden in one place (the commands, the comparison runners and
the notebooks call `quiet_known_warnings`)."""

import warnings


def quiet_known_warnings() -> None:
    """Hide two warnings that say nothing to our users: the module augments in `on_after_batch_transfer`
    on purpose, and Lightning 2.6's pytree helper warns about an API torch deprecated."""
    warnings.filterwarnings("ignore", message="You have overridden `on_after_batch_transfer`")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
