"""Number-for-number equivalence with the float64 PyTorch reference."""

import numpy as np
import pytest

import hrnet
from conftest import TOL, fixture_path, load_npy, max_abs, normalise_rgb

COCO_LAYOUTS = ["coco_w8.pth", "coco_w8_legacy.pth", "coco_w8_mmpose.pth"]

CASES = [(name, "coco_w8_input.npy", "coco_w8_heatmaps_f64.npy") for name in COCO_LAYOUTS] + [
    ("mpii_w16_b2.pth", "mpii_w16_b2_input.npy", "mpii_w16_b2_heatmaps_f64.npy"),
]


@pytest.mark.parametrize("checkpoint,input_name,truth_name", CASES)
def test_full_batch_matches_float64_reference(checkpoint, input_name, truth_name):
    x = load_npy(input_name)
    truth = load_npy(truth_name)
    with hrnet.Session(fixture_path(checkpoint)) as s:
        y = s.forward(x)
    assert y.dtype == np.float32
    assert y.shape == truth.shape
    assert np.all(np.isfinite(y))
    err = max_abs(y, truth)
    assert err <= TOL, "%s: max abs error %.3g > %.0e" % (checkpoint, err, TOL)


@pytest.mark.parametrize("kernels", hrnet.kernel_sets())
@pytest.mark.parametrize("checkpoint,input_name,truth_name", [CASES[0], CASES[-1]])
def test_every_kernel_set_of_this_cpu_matches_float64_reference(kernels, checkpoint, input_name, truth_name):
    x = load_npy(input_name)
    truth = load_npy(truth_name)
    for threads in (1, 2):
        with hrnet.Session(fixture_path(checkpoint), threads=threads, kernels=kernels) as s:
            assert s.info.kernels == kernels
            err = max_abs(s.forward(x), truth)
        assert err <= TOL, "%s on %s, %d threads: max abs error %.3g > %.0e" % (checkpoint, kernels, threads, err, TOL)


def test_kernel_set_choice_and_refusal():
    sets = hrnet.kernel_sets()
    assert sets, "no kernel set runs here"
    with hrnet.Session(fixture_path("coco_w8.pth")) as s:
        assert s.info.kernels == sets[0]          # auto = the fastest
    for name in {"avx512", "avx2", "neon", "generic"} - set(sets):
        with pytest.raises(hrnet.HRNetError) as e:
            hrnet.Session(fixture_path("coco_w8.pth"), kernels=name)
        assert e.value.status == hrnet.Status.ERR_INVALID_ARGUMENT and "it has" in e.value.message
    with pytest.raises(ValueError):
        hrnet.Session(fixture_path("coco_w8.pth"), kernels="sse9")


@pytest.mark.parametrize("checkpoint,input_name,truth_name", CASES)
def test_each_crop_alone_matches_float64_reference(checkpoint, input_name, truth_name):
    x = load_npy(input_name)
    truth = load_npy(truth_name)
    with hrnet.Session(fixture_path(checkpoint)) as s:
        for i in range(x.shape[0]):
            y = s.forward(x[i:i + 1])
            assert y.shape == (1,) + truth.shape[1:]
            err = max_abs(y, truth[i:i + 1])
            assert err <= TOL, "%s crop %d: max abs error %.3g > %.0e" % (checkpoint, i, err, TOL)


def test_three_coco_layouts_give_identical_heatmaps(coco_input):
    outs = []
    for name in COCO_LAYOUTS:
        with hrnet.Session(fixture_path(name), threads=1) as s:
            outs.append(s.forward(coco_input))
    for name, y in zip(COCO_LAYOUTS[1:], outs[1:]):
        assert np.array_equal(outs[0], y), "%s differs from coco_w8.pth by up to %.3g" % (
            name, max_abs(outs[0], y))


def test_crop_with_numpy_preprocessing(coco_session):
    rgb = load_npy("coco_w8_crop_rgb.npy")
    assert rgb.dtype == np.uint8 and rgb.shape == (256, 192, 3)
    truth = load_npy("coco_w8_crop_heatmaps.npy")
    assert truth.shape == (1, 17, 64, 48)
    y = coco_session.forward(normalise_rgb(rgb))
    err = max_abs(y, truth)
    assert err <= TOL, "crop: max abs error %.3g > %.0e" % (err, TOL)


def test_batch_sizes_in_any_order_agree(coco_session, coco_input, coco_truth):
    # Growing then shrinking the batch on one session: buffers planned for one batch size
    # must not leak into another's results.
    a = coco_session.forward(coco_input[1:2])
    b = coco_session.forward(np.concatenate([coco_input, coco_input[::-1]]))  # batch 4
    c = coco_session.forward(coco_input[:1])
    assert b.shape == (4, 17, 64, 48)
    assert max_abs(b[:2], coco_truth) <= TOL
    assert max_abs(b[2:], coco_truth[::-1]) <= TOL
    assert max_abs(a, coco_truth[1:2]) <= TOL
    assert max_abs(c, coco_truth[:1]) <= TOL


def test_threads_1_and_2_agree(coco_input, coco_truth):
    with hrnet.Session(fixture_path("coco_w8.pth"), threads=1) as s1, \
            hrnet.Session(fixture_path("coco_w8.pth"), threads=2) as s2:
        assert s1.info.threads == 1
        assert s2.info.threads == 2
        y1 = s1.forward(coco_input)
        y2 = s2.forward(coco_input)
    assert max_abs(y1, y2) <= 1e-5
    assert max_abs(y2, coco_truth) <= TOL


def test_input_dtype_and_layout_conversion(coco_session, coco_input):
    ref = coco_session.forward(coco_input)
    # float64 input is converted to float32 (exactly representable here)
    y64 = coco_session.forward(coco_input.astype(np.float64))
    assert np.array_equal(ref, y64)
    # a non-contiguous view gives the same numbers as the contiguous array
    wide = np.zeros((2, 3, 256, 384), np.float32)
    wide[..., ::2] = coco_input
    view = wide[..., ::2]
    assert not view.flags.c_contiguous
    assert np.array_equal(coco_session.forward(view), ref)
    # the input is not modified
    before = coco_input.copy()
    coco_session.forward(coco_input)
    assert np.array_equal(before, coco_input)


def test_session_from_model_matches_path(coco_input, coco_truth):
    with hrnet.Model(fixture_path("coco_w8.pth")) as m:
        s1 = hrnet.Session(m)
        s2 = hrnet.Session(m, threads=1)
    # the Model object is released; sessions keep the weights alive inside the library
    try:
        assert max_abs(s1.forward(coco_input), coco_truth) <= TOL
        assert max_abs(s2.forward(coco_input), coco_truth) <= TOL
    finally:
        s1.close()
        s2.close()


def test_concurrent_sessions_on_one_model(coco_input, coco_truth):
    import threading
    m = hrnet.Model(fixture_path("coco_w8.pth"))
    sessions = [hrnet.Session(m, threads=1) for _ in range(2)]
    m.close()
    results = [None, None]
    errors = []

    def work(i):
        try:
            for _ in range(3):
                results[i] = sessions[i].forward(coco_input[i:i + 1])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in sessions:
        s.close()
    assert not errors, errors
    for i in range(2):
        assert max_abs(results[i], coco_truth[i:i + 1]) <= TOL


@pytest.mark.parametrize("threads", [1, 2, 3, 5])
def test_batches_split_between_threads_stay_exact(threads):
    # A batch of 3 runs whole rounds one crop per thread and the rest layer by layer; more
    # threads than cores and than crops must change nothing.
    x = np.load(fixture_path("coco_w8_input.npy"))
    ref = np.load(fixture_path("coco_w8_heatmaps_f64.npy"))
    x3, r3 = np.concatenate([x, x[:1]]), np.concatenate([ref, ref[:1]])
    with hrnet.Session(fixture_path("coco_w8.pth"), threads=threads) as s:
        assert np.abs(s.forward(x3) - r3).max() <= 1e-4
