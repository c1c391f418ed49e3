"""simclr.safety.output_paths: an output never replaces an input (any route), never leaves its folder, and
replaces an existing file only when the command wrote it or the user says so."""

import os

import pytest

from simclr.errors import UserError
from simclr.safety.output_paths import (
    RECORD,
    blocking_file,
    check_folder_path,
    check_output_file,
    check_output_folder,
    inside,
    read_record,
    record_outputs,
    same_file,
    written_atomically,
)


@pytest.fixture
def files(tmp_path):
    """input.ckpt, a symbolic link and a hard link to it, and a user's own file."""
    original = tmp_path / "input.ckpt"
    original.write_bytes(b"weights")
    (tmp_path / "soft.ckpt").symlink_to(original)
    os.link(original, tmp_path / "hard.ckpt")
    (tmp_path / "mine.pt").write_bytes(b"user data")
    return tmp_path


def test_same_file_by_every_route(files, monkeypatch):
    original = files / "input.ckpt"
    monkeypatch.chdir(files)
    for route in (original, "input.ckpt", "./sub/../input.ckpt", files / "soft.ckpt", files / "hard.ckpt"):
        assert same_file(route, original), route
    assert not same_file(files / "mine.pt", original)
    assert not same_file(files / "missing.pt", original)


@pytest.mark.parametrize("route", ["input.ckpt", "soft.ckpt", "hard.ckpt"])
def test_an_output_that_is_an_input_is_refused_even_with_overwrite(files, route):
    with pytest.raises(UserError) as error:
        check_output_file(files / route, [("--ckpt", files / "input.ckpt")], "--out", "export", overwrite=True)
    assert str(error.value) == (
        f"--out would write {files / route}, which is --ckpt {files / 'input.ckpt'} (the same file); pass another --out"
    )


def test_an_existing_file_is_replaced_only_when_ours_or_with_overwrite(files):
    out = files / "mine.pt"
    with pytest.raises(UserError, match="which simclr export did not write; pass another --out, or --overwrite true"):
        check_output_file(out, [], "--out", "export", overwrite=False)
    check_output_file(out, [], "--out", "export", overwrite=True)
    check_output_file(files / "new.pt", [], "--out", "export", overwrite=False)  # a new file is fine
    record_outputs(files, ["mine.pt"], "export", with_stat=True)
    check_output_file(out, [], "--out", "export", overwrite=False)  # now ours
    with pytest.raises(UserError, match="simclr compare did not write"):
        check_output_file(out, [], "--out", "compare", overwrite=False)  # another command's file
    os.utime(out, ns=(1, 1))  # changed since it was written
    with pytest.raises(UserError, match="did not write"):
        check_output_file(out, [], "--out", "export", overwrite=False)
    with pytest.raises(
        UserError, match=f"--out {files} is a folder; pass a file path, e.g. --out {files / 'backbone.pt'}"
    ):
        check_output_file(files, [], "--out", "export", overwrite=True)


def test_folder_paths_under_or_equal_to_a_file(files):
    assert blocking_file(files / "mine.pt" / "sub" / "deeper") == files / "mine.pt"
    assert blocking_file(files / "new" / "sub") is None
    with pytest.raises(UserError) as error:
        check_folder_path(files / "mine.pt", "--out_dir")
    assert (
        str(error.value)
        == f"--out_dir {files / 'mine.pt'} is a file, not a folder; pass a folder path, e.g. --out_dir runs/out"
    )
    with pytest.raises(UserError) as error:
        check_folder_path(files / "mine.pt" / "run", "--out")
    assert str(error.value) == (
        f"--out {files / 'mine.pt' / 'run'} is under the file {files / 'mine.pt'}, so it cannot be a folder; "
        f"pass another folder"
    )


def test_an_output_folder_keeps_its_files_inside_and_off_the_inputs(files, tmp_path_factory):
    out = files / "out"
    (out / "variants").mkdir(parents=True)
    names = ["methods.json", "variants/00_a.yaml"]
    check_output_folder(out, names, [("--config", files / "input.ckpt")], "--out_dir", "compare", overwrite=False)
    os.link(files / "input.ckpt", out / "methods.json")  # a hard link to an input inside the folder
    with pytest.raises(UserError, match="which is --config .*input.ckpt \\(the same file\\)"):
        check_output_folder(out, names, [("--config", files / "input.ckpt")], "--out_dir", "compare", overwrite=True)
    (out / "methods.json").unlink()
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (out / "variants").rmdir()
    (out / "variants").symlink_to(elsewhere, target_is_directory=True)  # a linked folder leads outside
    assert not inside(out, out / "variants" / "00_a.yaml") and inside(out, out / "methods.json")
    with pytest.raises(UserError) as error:
        check_output_folder(out, names, [], "--out_dir", "compare", overwrite=True)
    assert (
        str(error.value) == f"--out_dir {out}: variants/00_a.yaml would be written outside it; pass another --out_dir"
    )


def test_the_record_and_atomic_writes(files):
    record_outputs(files, ["a.csv"], "compare")
    record_outputs(files, ["b.pt"], "export", with_stat=False)
    assert read_record(files) == {"a.csv": {"command": "compare"}, "b.pt": {"command": "export"}}
    (files / RECORD).write_text("[1, 2]")  # not ours: ignored
    assert read_record(files) == {}
    target = files / "link.pt"
    target.symlink_to(files / "mine.pt")
    with written_atomically(target) as temporary:
        temporary.write_bytes(b"export")
    assert not target.is_symlink() and target.read_bytes() == b"export"
    assert (files / "mine.pt").read_bytes() == b"user data"  # the link was replaced, not written through
    with pytest.raises(RuntimeError), written_atomically(files / "failed.pt") as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("export failed")
    assert sorted(p.name for p in files.iterdir() if p.name.startswith((".failed", "failed"))) == []
