import av
import numpy as np
import pytest
import torch

from dvtex.train.data import FramePairs, Sequence, is_colour, load_sequences, load_source, make_mask, mnist_digits, resize_frame
from dvtex.errors import UserError
from dvtex.train.textures import TEXTURES, simulate

from conftest import assert_user_error, run_module


def write_mp4(path, frames, fps=12):
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for f in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(stream.encode(None))


def test_video_is_decoded_cropped_and_resized(tmp_path):
    frames = simulate("lights", 15, 64, seed=3)
    wide = np.concatenate([np.zeros((15, 64, 16, 3), np.uint8), frames, np.zeros((15, 64, 16, 3), np.uint8)], axis=2)
    write_mp4(tmp_path / "clip.mp4", wide)
    got, fps, raw = load_source(str(tmp_path / "clip.mp4"), 32)
    assert got.shape == (15, 32, 32, 3) and fps == 12 and raw == (64, 96)
    # the centre crop drops the black side bars: the picture matches the simulated frames, halved
    want = np.stack([resize_frame(f, 32) for f in frames]).astype(float)
    assert np.abs(got.astype(float) - want).mean() < 6


def test_image_folder_and_npy_load_in_order(tmp_path, tiny_npy):
    from PIL import Image

    frames = np.load(tiny_npy)
    (tmp_path / "imgs").mkdir()
    for t, f in enumerate(frames):
        Image.fromarray(f).save(tmp_path / "imgs" / f"{t:03d}.png")
    a, _, _ = load_source(str(tmp_path / "imgs"), 40)
    b, _, _ = load_source(str(tiny_npy), 40)
    assert np.array_equal(a, b) and len(a) == 12
    assert np.array_equal(a[5, ..., 0], frames[5])


def test_resize_antialiases():
    checker = ((np.indices((64, 64)).sum(axis=0) % 2) * 255).astype(np.uint8)
    small = resize_frame(checker, 16).astype(float)
    assert abs(small.mean() - 127.5) < 3 and small.std() < 10  # grey, not a moire of black and white


def test_pairs_never_cross_a_sequence_boundary():
    def seq(start, count):
        frames = np.repeat(np.arange(start, start + count, dtype=np.uint8)[:, None, None, None], 4, axis=1)
        return Sequence(f"s{start}", np.repeat(np.repeat(frames, 4, axis=2), 1, axis=3), 1.0, (4, 4))

    pairs = FramePairs([seq(0, 5), seq(100, 7)])
    assert len(pairs) == 4 + 6
    y, mask = pairs.batch(torch.arange(len(pairs)))
    first, second = ((y[:, 0, 0, 0] + 1) * 127.5).round(), ((y[:, 1, 0, 0] + 1) * 127.5).round()
    assert mask is None and torch.equal(second, first + 1)


def test_colour_detection_and_grey_conversion():
    fire = simulate("fire", 4, 32)
    assert is_colour(fire) and not is_colour(np.repeat(fire[..., :1], 3, axis=3))
    seqs = load_sequences(["procedural:fire:4"], 32)
    assert seqs[0].frames.shape[3] == 3
    seqs = load_sequences(["procedural:fire:4"], 32, grey=True)
    assert seqs[0].frames.shape[3] == 1


@pytest.mark.parametrize("name", TEXTURES)
def test_textures_are_random_processes_deterministic_by_seed(name):
    a, b, c = simulate(name, 12, 48, seed=1), simulate(name, 12, 48, seed=1), simulate(name, 12, 48, seed=2)
    assert a.shape == (12, 48, 48, 3) and np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.abs(np.diff(a.astype(float), axis=0)).mean() > 0.5  # it moves
    assert simulate(name, 2, 96).shape == (2, 96, 96, 3)


def test_digits_follow_the_cycle_with_real_training_digits():
    images, labels = mnist_digits("train")
    frames, fps, _ = load_source("digits:0123:12", 28, seed=4)
    for t, frame in enumerate(frames[..., 0]):
        match = np.flatnonzero((images == frame).all(axis=(1, 2)))
        assert len(match) and labels[match[0]] == int("0123"[t % 4])
    held, _ = mnist_digits("heldout")
    assert len(images) == 2000 and len(held) == 3000
    assert not (images[:, None] == held[None, :50]).all(axis=(2, 3)).any()


def test_masks_drop_the_share_asked_for(tmp_path):
    sp = make_mask("saltpepper:0.5", 20, 32, seed=0)
    rect = make_mask("rect:0.5", 20, 32, seed=0)
    assert abs(sp.mean() - 0.5) < 0.02 and abs(rect.mean() - 0.5) < 0.05
    seqs = load_sequences(["procedural:water:6"], 32, mask="saltpepper:0.5")
    y, mask = FramePairs(seqs).batch(torch.arange(5))
    assert mask.shape == (5, 2, 32, 32)
    with pytest.raises(UserError):
        make_mask("rect:1.5", 2, 8, 0)


def test_mask_video_must_match_its_source(tmp_path, tiny_npy):
    np.save(tmp_path / "short_mask.npy", np.ones((5, 40, 40), np.uint8) * 255)
    with pytest.raises(UserError, match="has 5 frames"):
        load_sequences([str(tiny_npy)], 32, mask=str(tmp_path / "short_mask.npy"))
    np.save(tmp_path / "mask.npy", np.ones((12, 40, 40), np.uint8) * 255)
    assert load_sequences([str(tiny_npy)], 32, mask=str(tmp_path / "mask.npy"))[0].mask.all()


def test_bad_sources_get_one_line_and_status_2(tmp_path, tiny_npy):
    (tmp_path / "notes.mp4").write_text("this is not a video")
    np.save(tmp_path / "one.npy", np.zeros((1, 8, 8), np.uint8))
    out = tmp_path / "m.pt"
    assert_user_error(run_module("dvtex.train", tmp_path / "missing.mp4", "-o", out), "no such file")
    assert_user_error(run_module("dvtex.train", tmp_path / "notes.mp4", "-o", out), "not a video")
    assert_user_error(run_module("dvtex.train", tmp_path / "one.npy", "-o", out), "at least 2")
    assert_user_error(run_module("dvtex.train", "procedural:smoke", "-o", out), "unknown texture")
    assert_user_error(run_module("dvtex.train", tiny_npy, "-o", out, "--mask", "rect:2"), "--mask")
    assert_user_error(run_module("dvtex.train", tiny_npy, "-o", out, "--preset", "nope"), "--preset")
    assert not out.exists()
