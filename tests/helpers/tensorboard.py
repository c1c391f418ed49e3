"""Reading scalars back from TensorBoard event files in tests."""

from pathlib import Path


def logged(run: Path, tag: str) -> list[float]:
    """Values of scalar `tag` in the TensorBoard events under `run`, in step order."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    values = []
    for events in sorted(run.rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
        acc.Reload()
        if tag in acc.Tags()["scalars"]:
            values += [(e.step, e.value) for e in acc.Scalars(tag)]
    return [v for _, v in sorted(values)]
