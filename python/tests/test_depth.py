"""hrnet.lift_depth / hrnet_lift_depth on synthetic depth images rendered here: stick figures at
known depths in front of a far wall (thin forearms included), flat walls, and the cases where a
joint cannot be lifted.

The scene: a 640 x 480 camera (fx = fy = 600), a wall at 4 m, and three COCO-17 stick figures at
1.5, 2.5 and 3.2 m whose joints sit at slightly different depths (one arm reaching forward, one
back, a knee forward), drawn with a z-buffer: limbs as thick segments whose depth runs linearly
between their two joints, a torso quad, a neck and a head disc. Forearms are 2-3 px wide. The
keypoints given to the library are the true 2D joints moved 1-2 px in a random direction, so many
land on a limb's edge or on the wall next to it; the truth is the back-projection of the true 2D
joint at its true depth.
"""

import math

import numpy as np
import pytest

import hrnet

W, H = 640, 480
FX = FY = 600.0
CX, CY = 319.5, 239.5
INTRINSICS = (FX, FY, CX, CY)
WALL = 4.0

# COCO-17 joints of a figure facing the camera, in figure units (1 = its height), x right, y down.
TEMPLATE = np.array([
    (0.0, 0.08), (0.025, 0.065), (-0.025, 0.065), (0.05, 0.075), (-0.05, 0.075),     # face
    (0.12, 0.2), (-0.12, 0.2), (0.25, 0.33), (-0.25, 0.33), (0.36, 0.45), (-0.36, 0.45),  # arms
    (0.08, 0.52), (-0.08, 0.52), (0.1, 0.73), (-0.1, 0.73), (0.12, 0.95), (-0.12, 0.95)])  # legs
HEAD = (0.0, 0.075, 0.065)  # centre x, y and radius of the head disc
HEAD_OFFSET = -0.03
# Each joint's depth relative to the body's (m): the face on the head disc, one arm forward, one
# back, the left knee and ankle forward, the right ankle back.
OFFSETS = np.array([HEAD_OFFSET] * 5 + [0, 0, -0.06, 0.04, -0.15, 0.08, 0, 0, -0.05, 0.0, -0.02, 0.05])
LIMBS = [(5, 7, "upper"), (6, 8, "upper"), (7, 9, "fore"), (8, 10, "fore"),
         (11, 13, "thigh"), (12, 14, "thigh"), (13, 15, "shin"), (14, 16, "shin")]
# (origin x, origin y, height px, body depth m, limb widths px)
FIGURES = [
    (170, 80, 320, 1.5, dict(upper=7, fore=3, thigh=10, shin=5, neck=6)),
    (430, 130, 200, 2.5, dict(upper=5, fore=2, thigh=7, shin=4, neck=4)),
    (575, 160, 140, 3.2, dict(upper=4, fore=2, thigh=5, shin=3, neck=3)),
]
FOREARM_JOINTS = [7, 8, 9, 10]  # elbows and wrists: the ends of the 2-3 px forearms


def _draw_segment(z, xs, ys, a, b, za, zb, width):
    """Pixels whose centre lies within width / 2 of segment a-b, at the depth interpolated along it."""
    v = np.subtract(b, a)
    t = np.clip(((xs - a[0]) * v[0] + (ys - a[1]) * v[1]) / (v @ v), 0, 1)
    d = np.hypot(xs - (a[0] + t * v[0]), ys - (a[1] + t * v[1]))
    depth = za + t * (zb - za)
    m = (d <= width / 2) & (depth < z)
    z[m] = depth[m]


def _draw_quad(z, xs, ys, quad, depth):
    inside = np.ones(z.shape, bool)
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        inside &= (b[0] - a[0]) * (ys - a[1]) - (b[1] - a[1]) * (xs - a[0]) >= 0
    m = inside & (depth < z)
    z[m] = depth


def render_scene():
    """-> (H x W float64 depth in metres, F x 17 x 2 true joints, F x 17 true depths)."""
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    z = np.full((H, W), WALL)
    joints, depths = [], []
    for ox, oy, size, body, w in FIGURES:
        p = TEMPLATE * size + (ox, oy)
        dj = body + OFFSETS
        joints.append(p)
        depths.append(dj)
        _draw_quad(z, xs, ys, p[[5, 11, 12, 6]], body)  # torso: shoulders and hips
        for a, b, kind in LIMBS:
            _draw_segment(z, xs, ys, p[a], p[b], dj[a], dj[b], w[kind])
        head = np.array(HEAD[:2]) * size + (ox, oy)
        _draw_segment(z, xs, ys, (p[5] + p[6]) / 2, head, body, body + HEAD_OFFSET, w["neck"])
        m = (np.hypot(xs - head[0], ys - head[1]) <= HEAD[2] * size) & (body + HEAD_OFFSET < z)
        z[m] = body + HEAD_OFFSET
    return z, np.array(joints), np.array(depths)


def back_project(uv, z):
    z = np.broadcast_to(z, uv.shape[:-1])
    return np.stack([(uv[..., 0] - CX) * z / FX, (uv[..., 1] - CY) * z / FY, z], -1)


def noisy_keypoints(joints, rng, score=0.9):
    """The true joints moved 1-2 px in a random direction, with a score."""
    angle = rng.uniform(0, 2 * np.pi, joints.shape[:2])
    radius = rng.uniform(1, 2, joints.shape[:2])
    uv = joints + np.stack([np.cos(angle) * radius, np.sin(angle) * radius], -1)
    return np.concatenate([uv, np.full(joints.shape[:2] + (1,), score)], -1).astype(np.float32)


def window(depth_m, u, v, r=4, lo=0.1, hi=20.0):
    """The valid depths of the (2r + 1)^2 window around (u, v), clipped to the image."""
    px, py = int(math.floor(u + 0.5)), int(math.floor(v + 0.5))
    w = depth_m[max(0, py - r):py + r + 1, max(0, px - r):px + r + 1].astype(np.float64).ravel()
    return w[(w > 0) & (w >= lo) & (w <= hi)]


def reference_depth(depth_m, u, v, r=4, gap=0.05, need=None):
    """The library's rule written again in numpy: sorted valid depths split where consecutive ones
    differ by more than max(gap, 2%); the nearest surface with `need` pixels (default r + 1, at
    least 3), else the largest; its median. None if the window has no valid depth."""
    w = np.sort(window(depth_m, u, v, r))
    if w.size == 0:
        return None
    need = max(3, r + 1) if need is None else need
    cuts = np.flatnonzero(np.diff(w) > np.maximum(gap, 0.02 * w[:-1])) + 1
    surfaces = np.split(w, cuts)
    chosen = next((s for s in surfaces if s.size >= need), None)
    if chosen is None:
        chosen = max(surfaces, key=len)  # the first (nearest) of the largest
    return float(np.median(chosen))


def to_millimetres(depth_m):
    return np.round(depth_m * 1000).astype(np.uint16)


def errors_3d(points, valid, truth):
    e = np.linalg.norm(points.astype(np.float64) - truth, axis=-1)
    return np.where(valid, e, np.inf)


@pytest.fixture(scope="module")
def scene():
    return render_scene()


# --- accuracy on the figures ---------------------------------------------------------------

def measure(scene, runs):
    """Lifts each (keypoints, depth) of `runs` -> (3D errors, forearm joints' errors, |Z errors|,
    a summary line), errors in metres, inf where a joint was not lifted."""
    _, joints, depths = scene
    truth = back_project(joints, depths)
    errs, thin, dz = [], [], []
    for kp, depth in runs:
        points, valid, _ = hrnet.lift_depth(kp, depth, INTRINSICS)
        e = errors_3d(points, valid, truth)
        errs.append(e.ravel())
        thin.append(e[:, FOREARM_JOINTS].ravel())
        dz.append(np.abs(points[..., 2] - depths).ravel())
    errs, thin, dz = np.concatenate(errs), np.concatenate(thin), np.concatenate(dz)
    mm = lambda v: "%.2f mm" % (1000 * v)  # noqa: E731
    summary = ("median 3D error %s (median |Z error| %s), 90th percentile %s, max %s, forearm joints "
               "median %s max %s, lifted %.3f of %d" % (
                   mm(np.median(errs)), mm(np.median(dz)), mm(np.percentile(errs, 90)), mm(errs.max()),
                   mm(np.median(thin)), mm(thin.max()), np.isfinite(errs).mean(), errs.size))
    return errs, thin, dz, summary


@pytest.mark.parametrize("fmt", ["uint16", "float32"])
def test_figures_without_depth_noise(scene, fmt):
    z, joints, _ = scene
    depth = to_millimetres(z) if fmt == "uint16" else z.astype(np.float32)
    runs = ((noisy_keypoints(joints, np.random.default_rng(seed)), depth) for seed in range(5))
    errs, thin, dz, summary = measure(scene, runs)
    print("\n%s depth, no noise: %s" % (fmt, summary))
    assert np.isfinite(errs).all()
    assert np.median(errs) <= 0.01
    # Not only the median: every joint, thin limbs included, is on its own surface (the 2D noise
    # alone moves a joint up to 2 px, 1.1 cm at 3.2 m).
    assert errs.max() <= 0.03


def test_figures_with_depth_noise(scene):
    z, joints, _ = scene

    def runs():
        for seed in range(5):
            rng = np.random.default_rng(100 + seed)
            noisy = z * (1 + 0.01 * rng.standard_normal(z.shape))  # 1% Gaussian depth noise
            for depth in (to_millimetres(noisy), noisy.astype(np.float32)):
                yield noisy_keypoints(joints, rng), depth

    errs, thin, dz, summary = measure(scene, runs())
    print("\n1%% depth noise, uint16 and float32: %s" % summary)
    assert np.isfinite(errs).all()
    assert np.median(errs) <= 0.03
    assert np.median(thin) <= 0.03
    assert errs.max() <= 0.15  # no joint on the wall (0.8 m or more behind every figure)


def test_library_follows_the_rule(scene):
    """The library's depth is exactly the numpy rewrite's, on clean and noisy depth."""
    z, joints, _ = scene
    rng = np.random.default_rng(7)
    for depth in (z.astype(np.float32), (z * (1 + 0.01 * rng.standard_normal(z.shape))).astype(np.float32)):
        for r in (1, 4, 8):
            kp = noisy_keypoints(joints, rng)
            points, valid, _ = hrnet.lift_depth(kp, depth, INTRINSICS, window_radius=r)
            assert valid.all()
            want = np.array([[reference_depth(depth, u, v, r) for u, v, _ in person] for person in kp])
            np.testing.assert_array_equal(points[..., 2], want.astype(np.float32))


def test_window_median_fails_on_thin_limbs(scene):
    """The forearm joints are where the clustering matters: the window's median (or the nearest
    surface holding 15% of the window) takes the wall for many of them; the library does not."""
    z, joints, depths = scene
    depth = z.astype(np.float32)
    sel, lib_z, valid = [], [], []
    for seed in range(5):
        kp = noisy_keypoints(joints, np.random.default_rng(seed))
        points, ok, _ = hrnet.lift_depth(kp, depth, INTRINSICS)
        sel.append(kp[:, FOREARM_JOINTS].reshape(-1, 3))
        lib_z.append(points[:, FOREARM_JOINTS, 2].ravel())
        valid.append(ok[:, FOREARM_JOINTS].ravel())
    sel, lib_z, valid = np.concatenate(sel), np.concatenate(lib_z), np.concatenate(valid)
    true_z = np.tile(depths[:, FOREARM_JOINTS].ravel(), 5)
    median_z = np.array([np.median(window(depth, u, v)) for u, v, _ in sel])
    share_z = np.array([reference_depth(depth, u, v, need=math.ceil(0.15 * window(depth, u, v).size))
                        for u, v, _ in sel])
    median_off = np.abs(median_z - true_z) > 0.5
    share_off = np.abs(share_z - true_z) > 0.5
    print("\nforearm joints more than 0.5 m off: window median %d of %d, 15%% of the window %d, "
          "library %d" % (median_off.sum(), median_off.size, share_off.sum(),
                          (np.abs(lib_z - true_z) > 0.5).sum()))
    assert valid.all()
    assert np.abs(lib_z - true_z).max() < 0.02
    assert median_off.mean() >= 0.5
    assert share_off.any()


# --- a flat wall: the exact pinhole back-projection -----------------------------------------

def _wall_keypoints(rng, n=40):
    uv = np.stack([rng.uniform(0, W - 1, n), rng.uniform(0, H - 1, n)], -1)
    corners = np.array([[0, 0], [W - 1, 0], [0, H - 1], [W - 1, H - 1], [-0.49, -0.49], [W - 0.51, H - 0.51]])
    uv = np.concatenate([uv, corners])
    return np.concatenate([uv, np.ones((len(uv), 1))], -1).astype(np.float32)[None]


@pytest.mark.parametrize("fmt", ["uint16", "float32", "float32 strided", "uint16 big-endian",
                                 "uint16 every other column"])
def test_flat_wall_is_the_pinhole_back_projection(fmt):
    kp = _wall_keypoints(np.random.default_rng(1))
    if fmt.startswith("uint16"):
        z = 2.345
        depth = np.full((H, W), 2345, np.uint16)
        if fmt.endswith("big-endian"):
            depth = depth.astype(">u2")
        elif fmt.endswith("column"):
            depth = np.full((H, 2 * W), 2345, np.uint16)[:, ::2]
    else:
        z = float(np.float32(2.345))
        depth = np.full((H, W), z, np.float32)
        if fmt.endswith("strided"):  # rows 1000 floats apart: passed with its own stride
            depth = np.full((H, 1000), np.nan, np.float32)[:, :W]
            depth[:] = z
            assert depth.strides[0] == 4000
    points, valid, cov = hrnet.lift_depth(kp, depth, INTRINSICS)
    assert valid.all()
    want = back_project(kp[..., :2].astype(np.float64), z)
    np.testing.assert_allclose(points, want, rtol=1e-6, atol=1e-7)
    # On a wall the chosen surface has no spread: the depth variance is the sensor's alone.
    np.testing.assert_allclose(cov[..., 2, 2], (0.01 * z) ** 2, rtol=1e-5)


def test_flat_wall_keeps_the_intrinsics():
    """Other intrinsics and a wall seen whole from one pixel's window (radius 0)."""
    kp = _wall_keypoints(np.random.default_rng(2))
    depth = np.full((H, W), 1.25, np.float32)
    intr = (812.5, 790.0, 301.25, 250.75)
    for r in (0, 4, 64):
        points, valid, _ = hrnet.lift_depth(kp, depth, intr, window_radius=r)
        assert valid.all()
        u, v = kp[..., 0].astype(np.float64), kp[..., 1].astype(np.float64)
        want = np.stack([(u - intr[2]) * 1.25 / intr[0], (v - intr[3]) * 1.25 / intr[1], np.full(u.shape, 1.25)], -1)
        np.testing.assert_allclose(points, want, rtol=1e-6, atol=1e-7)


# --- joints that are not lifted --------------------------------------------------------------

def test_invalid_joints_are_zero():
    depth = np.full((H, W), 2.0, np.float32)
    depth[100:140, 100:140] = 0          # no measurement
    depth[300:340, 300:340] = np.nan     # no measurement
    depth[200:240, 500:540] = 25.0       # beyond max_depth
    depth[400:440, 40:80] = 0.05         # nearer than min_depth
    mm = np.where(np.isfinite(depth), np.round(depth * 1000), 0).astype(np.uint16)
    kp = np.array([
        [320, 240, 0.9],        # 0 valid
        [320, 240, 0.1],        # 1 score below min_score
        [320, 240, np.nan],     # 2 NaN score
        [-0.6, 240, 0.9],       # 3 left of the image (its pixel is column -1)
        [W - 0.5, 240, 0.9],    # 4 right of the image
        [320, H + 5, 0.9],      # 5 below
        [np.nan, 240, 0.9],     # 6 NaN x
        [320, np.inf, 0.9],     # 7 infinite y
        [120, 120, 0.9],        # 8 window of zeros
        [320, 320, 0.9],        # 9 window of NaN (zeros in millimetres)
        [520, 220, 0.9],        # 10 beyond max_depth
        [60, 420, 0.9],         # 11 nearer than min_depth
        [0, 0, 0.9],            # 12 corner: the window is clipped, valid
        [1e30, 5, 0.9],         # 13 far outside
    ], np.float32)
    for d in (depth, mm):
        points, valid, cov = hrnet.lift_depth(kp, d, INTRINSICS)
        assert valid.tolist() == [True] + [False] * 11 + [True, False]
        assert np.all(points[~valid] == 0) and np.all(cov[~valid] == 0)
        assert np.all(points[valid, 2] == np.float32(2.0))
    # a window partly without data takes the depth that is there
    points, valid, _ = hrnet.lift_depth(np.array([[99, 120, 1.0]]), depth, INTRINSICS)
    assert valid[0] and points[0, 2] == np.float32(2.0)
    # min_score and the depth range are honoured
    _, valid, _ = hrnet.lift_depth(kp[:2], depth, INTRINSICS, min_score=0.05)
    assert valid.tolist() == [True, True]
    _, valid, _ = hrnet.lift_depth(kp[[0, 10, 11]], depth, INTRINSICS, min_depth=0.01, max_depth=30)
    assert valid.tolist() == [True, True, True]


def test_shapes():
    depth = np.full((H, W), 2000, np.uint16)
    kp = np.array([[320, 240, 1], [10, 10, 1], [600, 400, 1]], np.float32)
    p, v, c = hrnet.lift_depth(kp, depth, INTRINSICS)                      # K x 3: one person
    assert p.shape == (3, 3) and v.shape == (3,) and c.shape == (3, 3, 3)
    assert p.dtype == np.float32 and v.dtype == np.bool_ and c.dtype == np.float32
    p2, v2, c2 = hrnet.lift_depth(np.stack([kp, kp[::-1]]), depth, INTRINSICS)
    assert p2.shape == (2, 3, 3) and v2.shape == (2, 3) and c2.shape == (2, 3, 3, 3)
    np.testing.assert_array_equal(p2[0], p)
    np.testing.assert_array_equal(p2[1], p[::-1])
    p0, v0, c0 = hrnet.lift_depth(np.zeros((0, 17, 3)), depth, INTRINSICS)  # nobody
    assert p0.shape == (0, 17, 3) and v0.shape == (0, 17) and c0.shape == (0, 17, 3, 3)
    # integer keypoints and lists are accepted
    p3, _, _ = hrnet.lift_depth([[320, 240, 1]], depth, INTRINSICS)
    np.testing.assert_array_equal(p3, p[:1])


# --- covariances ------------------------------------------------------------------------------

def test_covariances_are_symmetric_positive_semidefinite(scene):
    z, joints, _ = scene
    rng = np.random.default_rng(11)
    kp = noisy_keypoints(joints, rng)
    noisy = (z * (1 + 0.01 * rng.standard_normal(z.shape))).astype(np.float32)
    a = rng.uniform(0.5, 9, joints.shape[:2])
    d = rng.uniform(0.5, 9, joints.shape[:2])
    b = rng.uniform(-1, 1, joints.shape[:2]) * np.sqrt(a * d)
    cov2d = np.stack([a, b, b, d], -1).reshape(joints.shape[:2] + (2, 2))
    for c2 in (None, cov2d):
        _, valid, cov = hrnet.lift_depth(kp, noisy, INTRINSICS, covariances=c2)
        assert valid.all()
        c = cov.astype(np.float64)
        np.testing.assert_array_equal(c, np.swapaxes(c, -1, -2))
        eig = np.linalg.eigvalsh(c)
        assert np.all(eig >= -1e-6 * eig.max(axis=-1, keepdims=True))
        assert np.all(c[..., 2, 2] > 0)


def test_covariance_is_the_jacobian_product():
    """J Sigma_uvZ J^T with the 2D covariance given and var_Z = (depth_noise Z)^2 on a wall."""
    depth = np.full((H, W), 3.0, np.float32)
    kp = np.array([[[100.25, 50.5, 1], [500, 400, 1], [CX, CY, 1]]], np.float32)
    c2 = np.array([[[4.0, 1.0, 1.0, 2.0], [1.0, -0.5, -0.3, 9.0], [0.25, 0, 0, 0.25]]])
    points, valid, cov = hrnet.lift_depth(kp, depth, INTRINSICS, covariances=c2, depth_noise=0.02)
    assert valid.all()
    for j in range(3):
        u, v = float(kp[0, j, 0]), float(kp[0, j, 1])
        zz = 3.0
        J = np.array([[zz / FX, 0, (u - CX) / FX], [0, zz / FY, (v - CY) / FY], [0, 0, 1]])
        xy = (c2[0, j, 1] + c2[0, j, 2]) / 2
        S = np.array([[c2[0, j, 0], xy, 0], [xy, c2[0, j, 3], 0], [0, 0, (0.02 * zz) ** 2]])
        np.testing.assert_allclose(cov[0, j], J @ S @ J.T, rtol=1e-5, atol=1e-12)
    # At the principal point X and Y are independent of Z: their variance is the 2D one scaled.
    np.testing.assert_allclose(cov[0, 2, 0, 0], 0.25 * (3.0 / FX) ** 2, rtol=1e-5)
    assert cov[0, 2, 0, 2] == 0 and cov[0, 2, 1, 2] == 0


def test_covariance_grows_with_its_sources():
    rng = np.random.default_rng(5)
    flat = np.full((H, W), 2.5, np.float32)
    noisy = (2.5 * (1 + 0.01 * rng.standard_normal((H, W)))).astype(np.float32)
    kp = _wall_keypoints(rng)
    eye = np.tile(np.eye(2), kp.shape[1:2] + (1, 1))[None]
    _, _, c1 = hrnet.lift_depth(kp, flat, INTRINSICS)               # None = 1 px^2 each way
    _, _, c1b = hrnet.lift_depth(kp, flat, INTRINSICS, covariances=eye)
    np.testing.assert_array_equal(c1, c1b)
    _, _, c4 = hrnet.lift_depth(kp, flat, INTRINSICS, covariances=4 * eye)
    assert np.all(c4[..., 0, 0] > c1[..., 0, 0]) and np.all(c4[..., 1, 1] > c1[..., 1, 1])
    np.testing.assert_array_equal(c4[..., 2, 2], c1[..., 2, 2])    # Z does not come from (u, v)
    _, _, c0 = hrnet.lift_depth(kp, flat, INTRINSICS, depth_noise=0)
    _, _, c3 = hrnet.lift_depth(kp, flat, INTRINSICS, depth_noise=0.03)
    assert np.all(c0[..., 2, 2] == 0)                               # a flat wall has no spread
    np.testing.assert_allclose(c3[..., 2, 2], (0.03 * 2.5) ** 2, rtol=1e-5)
    assert np.all(np.trace(c3, axis1=-2, axis2=-1) > np.trace(c1, axis1=-2, axis2=-1))
    # Measured spread adds to the sensor's: 1% noise on the wall about doubles the Z variance
    # with depth_noise 0.01, and is all of it with depth_noise 0.
    _, _, cn = hrnet.lift_depth(kp, noisy, INTRINSICS)
    _, _, cn0 = hrnet.lift_depth(kp, noisy, INTRINSICS, depth_noise=0)
    sensor = (0.01 * 2.5) ** 2
    ratio0 = np.median(cn0[..., 2, 2]) / sensor
    ratio = np.median(cn[..., 2, 2]) / sensor
    print("\nZ variance on a wall with 1%% noise / (0.01 Z)^2: %.2f (depth_noise 0), %.2f (0.01)"
          % (ratio0, ratio))
    assert 0.6 < ratio0 < 1.4 and 1.6 < ratio < 2.4


# --- argument errors ------------------------------------------------------------------------

def test_argument_errors():
    depth = np.full((20, 30), 1000, np.uint16)
    kp = np.array([[[10, 10, 1]]], np.float32)
    bad = [
        (TypeError, "dtype", dict(depth=depth.astype(np.float64))),
        (TypeError, "dtype", dict(depth=depth.astype(np.int32))),
        (TypeError, "numpy array", dict(depth=depth.tolist())),
        (ValueError, "2-D", dict(depth=depth[:, :, None])),
        (ValueError, "empty", dict(depth=depth[:0])),
        (ValueError, "N x K x 3", dict(keypoints=kp[..., :2])),
        (ValueError, "N x K x 3", dict(keypoints=kp[0, 0])),
        (ValueError, "K = 0", dict(keypoints=np.zeros((1, 0, 3)))),
        (TypeError, "keypoints", dict(keypoints="nose")),
        (TypeError, "keypoints", dict(keypoints=kp.astype(bool))),
        (TypeError, "keypoints", dict(keypoints=kp.astype(np.complex64))),
        (ValueError, "fx", dict(intrinsics=(0, 600, 10, 10))),
        (ValueError, "fx", dict(intrinsics=(600, -1, 10, 10))),
        (ValueError, "finite", dict(intrinsics=(600, 600, np.nan, 10))),
        (ValueError, "4 numbers", dict(intrinsics=(600, 600, 10))),
        (TypeError, "intrinsics", dict(intrinsics="600")),
        (TypeError, "intrinsics", dict(intrinsics=5.0)),
        (TypeError, "intrinsics fx", dict(intrinsics=(True, 600, 10, 10))),
        (ValueError, "window_radius", dict(window_radius=65)),
        (ValueError, "window_radius", dict(window_radius=-1)),
        (TypeError, "window_radius", dict(window_radius=2.5)),
        (TypeError, "window_radius", dict(window_radius=True)),
        (ValueError, "min_score", dict(min_score=np.nan)),
        (ValueError, "min_score", dict(min_score=1e39)),
        (TypeError, "min_score", dict(min_score="0.2")),
        (ValueError, "cluster_gap", dict(cluster_gap=0)),
        (ValueError, "depth_noise", dict(depth_noise=-0.01)),
        (ValueError, "depth_noise", dict(depth_noise=np.inf)),
        (ValueError, "min_depth", dict(min_depth=5, max_depth=5)),
        (ValueError, "min_depth", dict(min_depth=-1)),
        (ValueError, "max_depth", dict(max_depth=np.inf)),
        (ValueError, "covariances", dict(covariances=np.ones((1, 1, 3)))),
        (ValueError, "covariances", dict(covariances=np.ones((2, 1, 4)))),
        (ValueError, "covariance of person 0 joint 0", dict(covariances=np.full((1, 1, 4), np.nan))),
        (ValueError, "covariance of person 0 joint 0", dict(covariances=[[[-1, 0, 0, 1]]])),
        (ValueError, "covariance of person 0 joint 0", dict(covariances=[[[1e39, 0, 0, 1]]])),
        (TypeError, "covariances", dict(covariances="identity")),
    ]
    for exc, text, kw in bad:
        args = dict(keypoints=kp, depth=depth, intrinsics=INTRINSICS)
        args.update(kw)
        with pytest.raises(exc) as e:
            hrnet.lift_depth(**args)
        assert "lift_depth" in str(e.value) and text in str(e.value), (kw, str(e.value))
    # one person (K x 3) names the joint alone, and takes K x 4 / K x 2 x 2 covariances
    with pytest.raises(ValueError, match="covariance of joint 0"):
        hrnet.lift_depth(kp[0], depth, INTRINSICS, covariances=[[np.nan, 0, 0, 1]])
    hrnet.lift_depth(kp[0], depth, INTRINSICS, covariances=[np.eye(2)])
    # the library checks for itself what a binding might not (here: bypassing the Python checks)
    import ctypes

    from hrnet import _lib
    opts = _lib.hrnet_lift_options()
    _lib.lib.hrnet_lift_options_init(ctypes.byref(opts))
    assert (opts.window_radius, opts.cluster_gap, opts.depth_noise, opts.min_depth, opts.max_depth) == \
        (4, 0.05, 0.01, 0.1, 20.0) and abs(opts.min_score - 0.2) < 1e-7
    opts.window_radius = 65
    img = _lib.hrnet_depth_image(data=ctypes.c_void_p(depth.ctypes.data), width=30, height=20, stride=60,
                                 format=_lib.DEPTH_UINT16_MM)
    intr = _lib.hrnet_intrinsics(fx=600, fy=600, cx=10, cy=10)
    out = np.zeros(3, np.float32)
    ok = np.zeros(1, np.uint8)
    status = _lib.lib.hrnet_lift_depth(kp.ctypes.data_as(_lib.float_p), None, 1, 1, ctypes.byref(img),
                                       ctypes.byref(intr), ctypes.byref(opts), out.ctypes.data_as(_lib.float_p),
                                       ok.ctypes.data_as(_lib.uint8_p), None, 1)
    assert status == hrnet.Status.ERR_INVALID_ARGUMENT
    assert "window_radius" in _lib.decode(_lib.lib.hrnet_last_error(None))
