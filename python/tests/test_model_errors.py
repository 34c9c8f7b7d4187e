"""Checkpoints that are well-formed PyTorch files but wrong as HRNets (written by torchzip.py):
each must fail with HRNET_ERR_MODEL and a message naming the key and shapes, or, where the
variation is legitimate (3x3 head, 'module.' prefixes), load and compute the right thing."""

from collections import OrderedDict

import numpy as np
import pytest

import hrnet
import torchzip
from conftest import fixture_path

S = hrnet.Status


@pytest.fixture(scope="module")
def coco_sd():
    return torchzip.load_state_dict(fixture_path("coco_w8.pth"))


@pytest.fixture(scope="module")
def coco_io():
    return np.load(fixture_path("coco_w8_input.npy")), np.load(fixture_path("coco_w8_heatmaps_f64.npy"))


def _fails(tmp_path, sd, *fragments):
    p = tmp_path / "bad.pth"
    torchzip.save_state_dict(p, sd)
    with pytest.raises(hrnet.HRNetError) as e:
        hrnet.Session(str(p))
    assert e.value.status == S.ERR_MODEL, (e.value.status_name, e.value.message)
    for f in fragments:
        assert f in e.value.message, (f, e.value.message)
    return e.value.message


def test_round_trip_of_the_writer_is_exact(tmp_path, coco_sd, coco_io):
    p = tmp_path / "same.pth"
    torchzip.save_state_dict(p, coco_sd)
    x, ref = coco_io
    with hrnet.Session(str(p)) as s:
        assert np.abs(s.forward(x) - ref).max() <= 1e-4


def test_conv_shape_contradicting_the_architecture(tmp_path, coco_sd):
    sd = OrderedDict(coco_sd)
    key = "stage2.0.branches.0.0.conv1.weight"
    sd[key] = sd[key][:, :7].copy()
    _fails(tmp_path, sd, key, "[8, 7, 3, 3]")


def test_batchnorm_shape_contradicting_its_conv(tmp_path, coco_sd):
    sd = OrderedDict(coco_sd)
    key = "stage3.2.branches.2.1.bn2.running_var"
    sd[key] = sd[key][:-1].copy()
    _fails(tmp_path, sd, key, "[31]")


def test_missing_key_is_named(tmp_path, coco_sd):
    key = "stage3.1.fuse_layers.2.0.0.1.running_mean"
    sd = OrderedDict((k, v) for k, v in coco_sd.items() if k != key)
    _fails(tmp_path, sd, key, "missing")


def test_other_network(tmp_path):
    rng = np.random.default_rng(0)
    resnet = OrderedDict([
        ("conv1.weight", rng.standard_normal((64, 3, 7, 7)).astype(np.float32)),
        ("bn1.weight", np.ones(64, np.float32)), ("bn1.bias", np.zeros(64, np.float32)),
        ("bn1.running_mean", np.zeros(64, np.float32)), ("bn1.running_var", np.ones(64, np.float32)),
        ("layer1.0.conv1.weight", rng.standard_normal((64, 64, 3, 3)).astype(np.float32)),
        ("fc.weight", rng.standard_normal((1000, 512)).astype(np.float32)),
    ])
    _fails(tmp_path, resnet, "conv1.weight", "[64, 3, 7, 7]")
    classifier = OrderedDict([("fc.weight", rng.standard_normal((10, 20)).astype(np.float32))])
    _fails(tmp_path, classifier, "not a pose HRNet")
    _fails(tmp_path, OrderedDict(), "no tensors")


def test_three_by_three_head_is_read_from_the_checkpoint(tmp_path, coco_sd, coco_io):
    # The same head as a 3x3 kernel with only its centre tap set computes the same heatmaps.
    sd = OrderedDict(coco_sd)
    w1 = sd["final_layer.weight"]
    w3 = np.zeros(w1.shape[:2] + (3, 3), np.float32)
    w3[:, :, 1, 1] = w1[:, :, 0, 0]
    sd["final_layer.weight"] = w3
    p = tmp_path / "head3.pth"
    torchzip.save_state_dict(p, sd)
    x, ref = coco_io
    with hrnet.Session(str(p)) as s:
        assert np.abs(s.forward(x) - ref).max() <= 1e-4
    # And a non-trivial 3x3 head changes them.
    w3[:, :, 0, 0] = 0.5
    sd["final_layer.weight"] = w3
    torchzip.save_state_dict(p, sd)
    with hrnet.Session(str(p)) as s:
        assert np.abs(s.forward(x) - ref).max() > 1e-2


def test_data_parallel_module_prefix(tmp_path, coco_sd, coco_io):
    sd = OrderedDict(("module." + k, v) for k, v in coco_sd.items())
    p = tmp_path / "dp.pth"
    torchzip.save_state_dict(p, sd)
    x, ref = coco_io
    with hrnet.Session(str(p)) as s:
        assert np.abs(s.forward(x) - ref).max() <= 1e-4
