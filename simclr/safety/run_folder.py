"""One run per folder: a lock file with the owner's pid, so two fits never mix checkpoints, configs and
TensorBoard events in one folder. A lock whose process is gone (a killed run) is taken over. The lock of
folder F is the file `.F.simclr-fit.lock` beside it, so F itself holds only the run's own files."""

from __future__ import annotations

import atexit
import os
import re
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer

from simclr.errors import UserError

LOCK_SUFFIX = ".simclr-fit.lock"


def lock_path(folder: Path) -> Path:
    """Where the lock of `folder` lives: beside it."""
    return folder.parent / f".{folder.name}{LOCK_SUFFIX}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


class RunFolderLock(Callback):
    """Holds the lock of each of `folders` for one fit; released when the fit ends or fails (as a callback of
    its trainer), by `release()`, or at the latest when the process exits.

    Args:
        folders: the run's output folders (checkpoints, logs); their parents are created if missing, the
            folders themselves are left to the run.
    """

    def __init__(self, folders: list[Path]):
        self.paths: list[Path] = []
        for folder in dict.fromkeys(Path(f).absolute() for f in folders):
            self._take(folder)

    def _take(self, folder: Path) -> None:
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # e.g. a path under a regular file
            raise UserError(f"cannot create the run folder {folder} ({e.strerror}); pass a writable folder") from e
        path = lock_path(folder)
        while True:
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    owner = int(path.read_text().strip() or 0)
                except (OSError, ValueError):
                    owner = 0
                if owner and owner != os.getpid() and _alive(owner):
                    self.release()
                    raise UserError(
                        f"another simclr fit (pid {owner}) is writing to {folder}; wait for it to finish, or give this "
                        f"run its own folder (--checkpoint.dirpath / --trainer.logger.init_args.version)"
                    ) from None
                path.unlink(missing_ok=True)  # left by a run that is gone (or by this process): take it over
                continue
            except OSError as e:
                self.release()
                raise UserError(
                    f"cannot write to the run folder {folder} ({e.strerror}); pass a writable folder"
                ) from e
            with os.fdopen(fd, "w") as fh:
                fh.write(str(os.getpid()))
            self.paths.append(path)
            atexit.register(self.release)
            return

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self.release()

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self.release()

    def release(self) -> None:
        """Removes the lock files this object holds (only if this process still owns them)."""
        for path in self.paths:
            try:
                if path.read_text().strip() == str(os.getpid()):
                    path.unlink()
            except OSError:
                pass
        self.paths = []


def writable_folder(folder: str | Path, what: str) -> Path:
    """`folder`, created if missing and checked writable before any expensive work; else a one-line UserError.

    Args:
        folder: the output folder.
        what: how the user names it in the message, e.g. "--out_dir".
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".simclr-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise UserError(
            f"{what} {folder} is not a writable folder ({e.strerror}); pass a folder you can write to"
        ) from e
    return folder


LAST_NAME = re.compile(r"^last(-v?\d+)?\.ckpt$")  # last.ckpt, and the last-v1.ckpt Lightning writes beside one


def last_checkpoint(folder: Path) -> Path | None:
    """The newest last*.ckpt in `folder` (the one Lightning's `--ckpt_path last` resumes), or None."""
    found = [p for p in folder.glob("last*.ckpt") if LAST_NAME.match(p.name) and p.is_file()] if folder.is_dir() else []
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def check_new_run(ckpt_dir: Path | None, log_dir: Path | None) -> None:
    """UserError when a new fit would write where an earlier run did (its checkpoints or its config.yaml):
    it would overwrite that run's files and mix their TensorBoard events.

    Args:
        ckpt_dir: where this fit writes checkpoints (None when checkpointing is off).
        log_dir: where it writes config.yaml and its logs.
    """
    earlier = sorted(ckpt_dir.glob("*.ckpt")) if ckpt_dir is not None and ckpt_dir.is_dir() else []
    if log_dir is not None and (log_dir / "config.yaml").is_file():
        earlier.append(log_dir / "config.yaml")
    if earlier:
        raise UserError(
            f"{earlier[0].parent} already holds an earlier run ({earlier[0].name}); resume it with --ckpt_path last, "
            f"or give this run a new folder (--checkpoint.dirpath, --trainer.logger.init_args.save_dir or version)"
        )
