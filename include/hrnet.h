/*
 * hrnet.h - the C interface of libhrnet, a CPU engine for HRNet human-pose estimation.
 *
 * libhrnet reads a published HRNet pose checkpoint (the model zoo's PyTorch files, old or new
 * format, or OpenMMLab's), works out the network from the tensors it holds, and runs it exactly
 * in 32-bit floating point. You give it person crops; it gives back one heatmap per body joint.
 *
 * CONVENTIONS
 *   - Every function that can fail returns an hrnet_status. HRNET_OK (0) is success; anything
 *     else is a failure, and a message naming the problem is available from hrnet_last_error()
 *     (for a session) or hrnet_last_error(NULL) (for the calling thread's last failure of a
 *     function that had no session yet, such as hrnet_model_load or hrnet_session_open).
 *   - Nothing in this library aborts the host: bad arguments, malformed or truncated files,
 *     unsupported checkpoints and too-small buffers are reported as statuses.
 *   - Buffers are owned by the caller. Every output buffer is passed with its capacity, counted
 *     in elements (floats), so the library can refuse to write past its end. On failure an output
 *     buffer's contents are unspecified and must not be used; on success it is fully written.
 *   - Images and tensors are row-major ("C order"). Sizes are given as height then width.
 *   - Sizes a host passes are checked before use: a count whose buffer could not exist (n x
 *     joints x 3, n x 3 x H x W, stride x height, n x joints x h x w) is
 *     HRNET_ERR_INVALID_ARGUMENT (or HRNET_ERR_BUFFER_TOO_SMALL against a capacity); nothing of
 *     that size is read or allocated first. Bytes past a struct's struct_size are never read or
 *     written, and a struct_size larger than this header's (a newer host) is accepted.
 *   - Checkpoints are untrusted input: see hrnet_model_load.
 *
 * MEMORY
 *   Every allocation whose size grows with the checkpoint or the input (the file's tensors,
 *   folded and packed weights, BF16 and direct weight copies, a session's arena, the pipeline's
 *   crop, heatmap and decoding buffers) is checked: if it fails, the call returns
 *   HRNET_ERR_OUT_OF_MEMORY, creates nothing, and the process, model and session stay usable (a
 *   smaller request can then succeed). The pipeline reserves its buffers before reading the crops
 *   or boxes; hrnet_forward() allocates nothing. This is tested under a low RLIMIT_AS. What can
 *   still end the process when memory runs out:
 *     - the Swift runtime's own small allocations: handles, messages, a few hundred bytes of
 *       bookkeeping per layer, and the checkpoint reader's parse of the pickle (proportional to
 *       the pickle's size, a few kilobytes for a published checkpoint, not to its weights): if
 *       even these fail, the runtime aborts (SIGABRT);
 *     - the OpenMP runtime (libomp) failing to start its worker threads, the first time a
 *       session runs with num_threads > 1 (each reserves a stack, see KMP_STACKSIZE, and a
 *       per-thread malloc arena): libomp prints "OMP: Error #34" and aborts. A host that caps
 *       its address space should leave room for them (about 80 MiB per thread here), or use
 *       num_threads 1;
 *     - with Linux memory overcommit, the kernel's OOM killer, when memory that was granted is
 *       touched and is not there (RLIMIT_AS or vm.overcommit_memory=2 turn that into a reported
 *       HRNET_ERR_OUT_OF_MEMORY).
 *
 * THREADS
 *   - An hrnet_model (the loaded, prepared weights) is immutable once loaded: any number of
 *     sessions, on any threads, may be created from one model at the same time.
 *   - An hrnet_session (scratch memory and settings for running the network) must be used by one
 *     thread at a time. Use one session per thread for concurrent inference.
 *   - Inside one call, the library runs its kernels on `num_threads` OpenMP threads (a session
 *     option). It never starts threads of its own between calls. A batch runs one crop per
 *     thread where it can (whole rounds of num_threads crops), else each layer is split.
 *   - Sessions used at the same time from several host threads each bring their own OpenMP
 *     team: keep the sum of their num_threads at or below the number of cores, since waiting
 *     threads spin for a while (up to 20 ms, see hrnet_options.num_threads) before sleeping.
 *
 * VERSIONING
 *   The ABI follows semantic versioning: functions and enum values are only ever added within a
 *   major version. Option and info structs start with their own size (struct_size) so they can
 *   grow: fill options with hrnet_options_init(), and set hrnet_info.struct_size = sizeof(hrnet_info)
 *   before calling hrnet_session_info(); the library never writes past the size it is given.
 */
#ifndef HRNET_H
#define HRNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HRNET_VERSION_MAJOR 0
#define HRNET_VERSION_MINOR 3
#define HRNET_VERSION_PATCH 0
#define HRNET_VERSION_STRING "0.3.0"
/** (major << 16) | (minor << 8) | patch, comparable with hrnet_version_number(). */
#define HRNET_VERSION_NUMBER ((HRNET_VERSION_MAJOR << 16) | (HRNET_VERSION_MINOR << 8) | HRNET_VERSION_PATCH)

/** Result of every fallible call. */
typedef enum hrnet_status {
    HRNET_OK = 0,
    /** An argument is invalid: a NULL pointer, a zero or negative size, a batch of 0, an input
     *  size that is not a multiple of 32, an unknown option value, a non-finite number. */
    HRNET_ERR_INVALID_ARGUMENT = 1,
    /** The file could not be opened or read (missing, a directory, permission denied). */
    HRNET_ERR_IO = 2,
    /** The file is not a well-formed checkpoint: empty, truncated, a corrupted zip or pickle. */
    HRNET_ERR_FORMAT = 3,
    /** The checkpoint is well formed but not a pose HRNet this library can run: keys missing,
     *  a tensor whose shape contradicts the architecture, a different network, an unsupported
     *  tensor type. The message names the key and the shapes. */
    HRNET_ERR_MODEL = 4,
    /** An output buffer is smaller than the result (the message gives both sizes). */
    HRNET_ERR_BUFFER_TOO_SMALL = 5,
    /** Memory could not be allocated. */
    HRNET_ERR_OUT_OF_MEMORY = 6,
    /** A bug in libhrnet; please report it with the message. */
    HRNET_ERR_INTERNAL = 7
} hrnet_status;

/** Opaque: loaded and prepared weights. Immutable, shareable across threads. */
typedef struct hrnet_model hrnet_model;
/** Opaque: a runnable instance (scratch memory, options). One thread at a time. */
typedef struct hrnet_session hrnet_session;

/** Numeric precision of the network. */
typedef enum hrnet_precision {
    /** Exact 32-bit float (default): matches the PyTorch float64 reference to about 1e-6 on the
     *  fixtures (the tests require 1e-4). */
    HRNET_PRECISION_FP32 = 0,
    /** Fast, opt-in: convolution products in BF16 (AVX512_BF16 `vdpbf16ps`), sums, activations
     *  and the heatmap layer in FP32; about twice as fast. Error bound tested on the fixtures:
     *  heatmaps within 2e-2 max abs of the float64 reference, decoded keypoints within one
     *  heatmap pixel of FP32's on >= 99% of joints (README: measured figures). Needs a CPU with
     *  AVX512_BF16, else session creation fails with HRNET_ERR_INVALID_ARGUMENT. */
    HRNET_PRECISION_BF16 = 1,
    /** Fastest, opt-in: uint8 activations x int8 weights (per output channel, symmetric), int32
     *  sums, FP32 epilogue; the first layer and the heatmap layer stay FP32, and the skip
     *  connections of tensors over 200 KiB add them rounded to IEEE half. Kernels: AVX512_VNNI
     *  (vpdpbusd; kernel set avx512 on Ice Lake, Zen 4 and later), AVX-VNNI (vpdpbusd on 256-bit
     *  registers; kernel set avx2 on Alder Lake, Zen 5 and later), AVX2 (vpmaddwd; kernel set
     *  avx2 on the other x86-64-v3 CPUs, and avx512 on CPUs without either VNNI) and aarch64 with
     *  the ARMv8.2 dot product (sdot; kernel set neon). All give the same int32 sums, so the same
     *  results.
     *  Needs a calibration of the checkpoint (hrnet_calibrator_*), given in
     *  hrnet_options.calibration_path or calibration_data; session creation fails with
     *  HRNET_ERR_INVALID_ARGUMENT without one (a calibration of another checkpoint too), with the
     *  generic kernel set, and on ARM CPUs without the dot product. Error bound tested: heatmaps
     *  within 5e-2 max abs of the float64 reference on the fixture (measured 2.2e-2), COCO AP on
     *  the demo model's sample frames within 0.5 of FP32's and >= 99% of joints within one
     *  heatmap pixel of FP32's (README "INT8": measured figures). Added in 0.3. */
    HRNET_PRECISION_INT8 = 2
} hrnet_precision;

/** Convolution kernels. Every set computes the same exact FP32 network (each is tested against
 *  the float64 reference, within 1e-4); they differ in the instructions they need and so in speed
 *  (README: measured ms per crop for each). */
typedef enum hrnet_kernel_set {
    /** Default: the HRNET_KERNELS environment variable if it is set (auto, generic, avx2, avx512,
     *  neon), else the fastest set the CPU runs: avx512, then avx2, then neon, then generic. */
    HRNET_KERNELS_AUTO = 0,
    /** Any CPU: convolutions as im2col rows and OpenBLAS sgemm (single-threaded inside the
     *  library's own threads; the host's BLAS settings are never changed). */
    HRNET_KERNELS_GENERIC = 1,
    /** x86-64 with AVX2, FMA and F16C (x86-64-v3: Intel since 2013, AMD since 2015). */
    HRNET_KERNELS_AVX2 = 2,
    /** x86-64 with AVX-512 F/VL/DQ/BW. BF16 precision needs this set. */
    HRNET_KERNELS_AVX512 = 3,
    /** aarch64 Advanced SIMD (every 64-bit ARM core). */
    HRNET_KERNELS_NEON = 4
} hrnet_kernel_set;

/** 1 if this library and this CPU can run kernel set `kernels` (AUTO: always), else 0. */
int32_t hrnet_kernels_supported(int32_t kernels);

/** Session options. Fill with hrnet_options_init() before changing fields. */
typedef struct hrnet_options {
    /** sizeof(hrnet_options), set by hrnet_options_init(). */
    size_t struct_size;
    /** Network input height and width in pixels, each a positive multiple of 32. 0 and 0 (the
     *  default) choose 256x192 for a 17-joint (COCO) model and 256x256 for a 16-joint (MPII)
     *  model, 256x192 otherwise. A checkpoint does not record the size it was trained at.
     *  Exactly one of the two being 0 is HRNET_ERR_INVALID_ARGUMENT. */
    int32_t input_height;
    int32_t input_width;
    /** OpenMP threads used inside one call; 0 (default) = all cores available to the process.
     *  Negative values are HRNET_ERR_INVALID_ARGUMENT. Waiting threads spin for up to 20 ms
     *  before sleeping (libomp's KMP_BLOCKTIME), unless the environment sets KMP_BLOCKTIME. */
    int32_t num_threads;
    /** An hrnet_precision value; default HRNET_PRECISION_FP32. */
    int32_t precision;
    /** An hrnet_kernel_set value; default HRNET_KERNELS_AUTO. A set named here wins over the
     *  HRNET_KERNELS environment variable. A set this CPU cannot run (or BF16 precision with a set
     *  other than avx512) is HRNET_ERR_INVALID_ARGUMENT, naming what the CPU has. (Added in 0.2;
     *  a host built against 0.1 passes a smaller struct_size and gets AUTO.) */
    int32_t kernels;
    /** INT8 precision only: the calibration file (hrnet_calibrator_save), or NULL and the file's
     *  bytes in calibration_data / calibration_size (read during session creation only). A file
     *  that is damaged, of another version or of another checkpoint is refused. Added in 0.3. */
    const char *calibration_path;
    const void *calibration_data;
    size_t calibration_size;
} hrnet_options;

/** Facts about a session's network, filled by hrnet_session_info(). */
typedef struct hrnet_info {
    /** Set by the caller to sizeof(hrnet_info) before the call; the library fills only the
     *  fields that fit in that size (so a host built against an older header stays safe). */
    size_t struct_size;
    int32_t joints;          /**< K: heatmaps per crop (17 for COCO, 16 for MPII). */
    int32_t input_height;    /**< network input H (pixels). */
    int32_t input_width;     /**< network input W (pixels). */
    int32_t heatmap_height;  /**< H / 4. */
    int32_t heatmap_width;   /**< W / 4. */
    int32_t width;           /**< HRNet width C: channels of the highest-resolution branch (32, 48). */
    int32_t branches;        /**< parallel branches in the last stage (4 for published models). */
    int32_t stages;          /**< stages after the stem, including layer1 (4 for published models). */
    int32_t num_threads;     /**< threads the session uses. */
    int32_t precision;       /**< an hrnet_precision value. */
    int64_t parameters;      /**< learned parameters in the checkpoint (BatchNorm statistics excluded). */
    double  gmacs_per_crop;  /**< multiply-adds per crop, in units of 1e9, at the session's input size. */
    int32_t kernels;         /**< the hrnet_kernel_set the session runs (never AUTO). Added in 0.2. */
} hrnet_info;

/* ---------------------------------------------------------------------------------------- */
/* Version and errors                                                                        */

/** Runtime version string, e.g. "0.1.0". Never NULL; static storage. */
const char *hrnet_version(void);
/** Runtime version as HRNET_VERSION_NUMBER encodes it; compare with the header's to detect a
 *  mismatched library (same major required). */
uint32_t hrnet_version_number(void);
/** Short constant name of a status ("HRNET_ERR_FORMAT"). Never NULL; static storage. */
const char *hrnet_status_string(hrnet_status status);
/** Message of the last failure: of `session` if not NULL, else of the calling thread's last
 *  failed call that had no session (model loading, session creation, and any call that was
 *  given a NULL session). Returns "" if there was none. The pointer stays valid until the next
 *  failing call on the same session / thread. */
const char *hrnet_last_error(const hrnet_session *session);

/* ---------------------------------------------------------------------------------------- */
/* Models                                                                                    */

/** Reads a checkpoint and prepares its weights (BatchNorm folded, packed for the kernels).
 *  Accepts PyTorch zip files, pre-1.6 ("legacy") torch.save files (storage locations such as
 *  "cuda:0" are ignored), plain state dicts, {"state_dict": ...} and {"model": ...} wrappers,
 *  OpenMMLab files ("backbone." / "keypoint_head." / "head." prefixes) and "module." prefixes.
 *  The file is parsed by a restricted reader that never executes code from it, and is treated
 *  as hostile: every size, offset, stride, count and nesting depth read from it is checked with
 *  overflow-checked arithmetic against the bytes actually there before it is used, so a damaged
 *  or malicious file is HRNET_ERR_FORMAT (or HRNET_ERR_MODEL), never a crash, a read outside the
 *  file, a hang or an allocation larger than the file can back. Limits no published checkpoint
 *  comes near: pickle values nested at most 1000 deep, tensors of at most 8 dimensions, no
 *  zero-stride (broadcast) or overlapping tensor views, and pickle work bounded by its size.
 *  On success *out_model owns a reference; release it with hrnet_model_release(). */
hrnet_status hrnet_model_load(const char *path, hrnet_model **out_model);
/** hrnet_model_load() from a checkpoint's bytes in memory (for weights embedded in a binary or
 *  received over a socket): the same formats, the same checks, the same statuses. The bytes are
 *  only read during the call (the model keeps its own packed copy of the weights), so the caller
 *  may free or reuse them as soon as it returns; they are never written. data NULL or size 0 is
 *  HRNET_ERR_INVALID_ARGUMENT. Added in 0.2. */
hrnet_status hrnet_model_load_memory(const void *data, size_t size, hrnet_model **out_model);
/** Drops the caller's reference. Sessions created from the model keep it alive. NULL is a no-op. */
void hrnet_model_release(hrnet_model *model);

/* ---------------------------------------------------------------------------------------- */
/* Sessions                                                                                  */

/** Fills `options` with the defaults (struct_size set, everything else default). NULL is a no-op. */
void hrnet_options_init(hrnet_options *options);

/** Creates a session on a loaded model. `options` may be NULL (defaults). On failure
 *  *out_session is set to NULL (as *out_model is by hrnet_model_load). All activation memory is
 *  planned and allocated here (crops run one after another through one arena, so its size does
 *  not depend on the batch): hrnet_forward() allocates nothing. The pipeline calls
 *  (hrnet_estimate_*) keep growable buffers for their crops and heatmaps, allocated when a
 *  larger batch than before is first seen. */
hrnet_status hrnet_session_create(hrnet_model *model, const hrnet_options *options,
                                  hrnet_session **out_session);
/** hrnet_model_load() + hrnet_session_create() in one call; the session holds the model. */
hrnet_status hrnet_session_open(const char *path, const hrnet_options *options,
                                hrnet_session **out_session);
/** Frees the session and everything it allocated. NULL is a no-op. */
void hrnet_session_close(hrnet_session *session);

/** Fills `info`, whose struct_size the caller must set to sizeof(hrnet_info) first.
 *  A struct_size smaller than the first version of hrnet_info is HRNET_ERR_INVALID_ARGUMENT (and
 *  nothing is written). On return struct_size is the number of bytes filled: the smaller of the
 *  size given and the library's own sizeof(hrnet_info). */
hrnet_status hrnet_session_info(const hrnet_session *session, hrnet_info *info);

/** Runs the network.
 *  input:    `batch` crops, NCHW float32, already normalised ((v/255 - mean)/std, RGB order),
 *            batch x 3 x input_height x input_width; `input_count` is its length in floats and
 *            must equal that product exactly.
 *  heatmaps: output, batch x joints x heatmap_height x heatmap_width floats; `heatmap_capacity`
 *            (in floats) must be at least that.
 *  Non-finite input values are refused (HRNET_ERR_INVALID_ARGUMENT, naming the first one). */
hrnet_status hrnet_forward(hrnet_session *session, const float *input, size_t batch,
                           size_t input_count, float *heatmaps, size_t heatmap_capacity);

/* ---------------------------------------------------------------------------------------- */
/* From images to keypoints: the published top-down pipeline                                */

/** Pixel layouts, 8 bits per channel. */
typedef enum hrnet_pixel_format {
    HRNET_PIXEL_RGB8 = 0,
    HRNET_PIXEL_BGR8 = 1,   /* OpenCV's default */
    HRNET_PIXEL_RGBA8 = 2   /* alpha ignored */
} hrnet_pixel_format;

/** A caller's image, read during the call only. `stride` is the number of bytes from one row to
 *  the next, at least width x (3 or 4). */
typedef struct hrnet_image {
    const uint8_t *data;
    int32_t width;
    int32_t height;
    size_t stride;
    int32_t format;   /**< an hrnet_pixel_format */
} hrnet_image;

/** A person box in frame pixels: top-left corner, size, and the detector's score (1 if none). */
typedef struct hrnet_box {
    float x, y, width, height, score;
} hrnet_box;

typedef enum hrnet_decode_method {
    /** Published: argmax, then a quarter pixel towards the higher neighbour along x and along y,
     *  only when the peak lies inside 1 < x < w-1 and 1 < y < h-1 (both coordinates or neither). */
    HRNET_DECODE_STANDARD = 0,
    /** DARK (CVPR 2020): Taylor step on the log of the Gaussian-smoothed heatmap. */
    HRNET_DECODE_DARK = 1
} hrnet_decode_method;

/** Pipeline options. Fill with hrnet_estimate_options_init() before changing fields. */
typedef struct hrnet_estimate_options {
    size_t struct_size;          /**< set by hrnet_estimate_options_init() */
    /** Flip test (default 1): the mirrored crop runs in the same batch; its heatmaps are mirrored
     *  back, left/right channels swapped, shifted one pixel right and averaged in. */
    int32_t flip;
    int32_t decode;              /**< an hrnet_decode_method (default STANDARD) */
    /** Left/right joint pairs for the flip test, 2 x num_flip_pairs indices; NULL/0 (default)
     *  uses the model's skeleton (COCO for 17 joints, MPII for 16). Required for other joint
     *  counts when flip is on. num_flip_pairs is at most joints / 2; both fields are ignored
     *  when flip is 0. */
    const int32_t *flip_pairs;
    int32_t num_flip_pairs;
} hrnet_estimate_options;

/** Fills `options` with the defaults. NULL is a no-op. */
void hrnet_estimate_options_init(hrnet_estimate_options *options);

/** Estimates one pose per crop. Each crop is an image already cut around one person; it is
 *  fitted into the network input with its aspect ratio kept (centred, zero padding).
 *  keypoints:     output, n x joints x 3 floats (x, y, score) in each crop's pixel coordinates.
 *  person_scores: output or NULL, n floats: mean of the keypoint scores above 0.2 (0 if none).
 *  heatmaps:      output or NULL, n x joints x heatmap_height x heatmap_width floats (after flip
 *                 merging); heatmap_capacity is ignored when heatmaps is NULL.
 *  `options` may be NULL (defaults). n = 0 is HRNET_ERR_INVALID_ARGUMENT. Each crop needs
 *  about 12 x input_height x input_width bytes of session memory (twice with the flip test),
 *  reserved before the crops are read: a batch that does not fit is HRNET_ERR_OUT_OF_MEMORY. */
hrnet_status hrnet_estimate_crops(hrnet_session *session, const hrnet_image *crops, size_t n,
                                  const hrnet_estimate_options *options,
                                  float *keypoints, size_t keypoint_capacity, float *person_scores,
                                  float *heatmaps, size_t heatmap_capacity);

/** Estimates one pose per box in a frame, as the published top-down test code: each box becomes
 *  a centre and a size widened to the input aspect ratio and enlarged 1.25x, warped onto the
 *  input with bilinear sampling (outside the frame = black), all boxes in one batch. Boxes partly
 *  outside the frame are normal; a box with no area, a non-finite value or no overlap with the
 *  frame is HRNET_ERR_INVALID_ARGUMENT naming the box. n = 0 (a frame with nobody in it, normal in
 *  a stream) returns HRNET_OK with nothing written: the frame and options are still checked, and
 *  boxes and the outputs may be NULL (before 0.3 it was HRNET_ERR_INVALID_ARGUMENT).
 *  keypoints: n x joints x 3 floats in frame pixels. person_scores: box score x the mean of
 *  keypoint scores above 0.2. person_areas: output or NULL, n floats, the enlarged box area (for
 *  hrnet_oks_nms). heatmaps: as for hrnet_estimate_crops. */
hrnet_status hrnet_estimate_boxes(hrnet_session *session, const hrnet_image *frame,
                                  const hrnet_box *boxes, size_t n,
                                  const hrnet_estimate_options *options,
                                  float *keypoints, size_t keypoint_capacity, float *person_scores,
                                  float *person_areas, float *heatmaps, size_t heatmap_capacity);

/** Decodes heatmaps computed elsewhere (n x joints x heatmap_height x heatmap_width floats).
 *  With `boxes` (n of them), keypoints are in frame pixels, each box turned into its region as
 *  hrnet_estimate_boxes does for an input of input_height x input_width (0, 0 = 4 x the heatmap
 *  size); with boxes NULL, in network-input pixels. keypoints: n x joints x 3 floats.
 *  Heatmap sides are at most 2048 (DARK's cost grows with the cube of the side).
 *  Needs no session: failures are reported through hrnet_last_error(NULL). */
hrnet_status hrnet_decode_heatmaps(const float *heatmaps, size_t n, int32_t joints,
                                   int32_t heatmap_height, int32_t heatmap_width,
                                   const hrnet_box *boxes, int32_t input_height, int32_t input_width,
                                   int32_t method, float *keypoints, size_t keypoint_capacity);

/** Area (pixels^2) of a box's region as the pipeline sees it (aspect-widened, enlarged 1.25x),
 *  for an input of input_height x input_width; what OKS-NMS compares people by. 0 if invalid. */
double hrnet_box_area(const hrnet_box *box, int32_t input_height, int32_t input_width);

/** Greedy OKS-NMS over n people of one image, as the published COCO evaluation: by score,
 *  highest first, a person is dropped when its OKS with a kept one is above `threshold` (0.9
 *  published). keypoints: n x joints x 3; scores, areas: n each; sigmas: joints values or NULL
 *  for COCO's (17 joints). keep: output, capacity n, the kept indices in order; *num_kept their
 *  count; `keep` is also the call's work space (it allocates nothing). n is at most INT32_MAX.
 *  Needs no session: failures are reported through hrnet_last_error(NULL). */
hrnet_status hrnet_oks_nms(const float *keypoints, const float *scores, const float *areas, size_t n,
                           int32_t joints, const float *sigmas, float threshold,
                           int32_t *keep, size_t *num_kept);

/* ---------------------------------------------------------------------------------------- */
/* INT8 calibration                                                                          */

/** Opaque: activation ranges being measured for INT8 (HRNET_PRECISION_INT8). */
typedef struct hrnet_calibrator hrnet_calibrator;

/** Starts measuring the activation ranges of `session`'s model: the session must be FP32 (it
 *  runs the network; the calibrator keeps what it needs, so the session may be closed first).
 *  Calibrate at the input size and on data like the deployment's: crops or frames with the
 *  detector's boxes; a few dozen people are enough (README "INT8"). Failures of every
 *  calibrator call go to hrnet_last_error(NULL). Added in 0.3. */
hrnet_status hrnet_calibrator_create(hrnet_session *session, hrnet_calibrator **out_calibrator);
/** Runs the pipeline on `n` boxes of `frame` (as hrnet_estimate_boxes, flip test included unless
 *  options say otherwise) and records every convolution's input. n = 0 records nothing. */
hrnet_status hrnet_calibrator_add_boxes(hrnet_calibrator *calibrator, const hrnet_image *frame,
                                        const hrnet_box *boxes, size_t n, const hrnet_estimate_options *options);
/** The same for `n` crops (as hrnet_estimate_crops). */
hrnet_status hrnet_calibrator_add_crops(hrnet_calibrator *calibrator, const hrnet_image *crops, size_t n,
                                        const hrnet_estimate_options *options);
/** Writes the calibration file (atomically: a temporary name, then rename): a small versioned
 *  binary with a checksum and the checkpoint's fingerprint. Each convolution's range is the
 *  99.99th percentile of its input values. Nothing recorded yet is HRNET_ERR_INVALID_ARGUMENT. */
hrnet_status hrnet_calibrator_save(hrnet_calibrator *calibrator, const char *path);
/** Frees the calibrator. NULL is a no-op. */
void hrnet_calibrator_close(hrnet_calibrator *calibrator);
/** create + add_crops (default options) + save + close, in one call. */
hrnet_status hrnet_calibrate(hrnet_session *session, const hrnet_image *crops, size_t n, const char *path);

/* ---------------------------------------------------------------------------------------- */
/* How far to trust each joint                                                               */

/** Per-joint uncertainty from heatmaps computed elsewhere (the `heatmaps` output of
 *  hrnet_estimate_boxes or hrnet_estimate_crops, or hrnet_forward's): for each joint a 2x2
 *  covariance of its decoded position, (xx, xy, yx, yy) in pixels^2 of the same coordinates
 *  hrnet_decode_heatmaps gives (frame pixels with `boxes`, network-input pixels without). It
 *  comes from the heatmap's spread around its peak (the training target's own width taken out)
 *  and grows when a second peak competes (along the line between the two) and when the peak is
 *  low; mapped through the crop transform (so its axes scale with the box), then calibrated on
 *  the bundled synthetic data so that about 39% of true joints fall inside the 1-sigma ellipse
 *  and 86% inside the 2-sigma one, as for a 2-D Gaussian (README "How far to trust each joint":
 *  the measured fractions). Arguments as for hrnet_decode_heatmaps; covariances: output,
 *  n x joints x 4 floats, `covariance_capacity` at least that. Needs no session: failures are
 *  reported through hrnet_last_error(NULL). Added in 0.3. */
hrnet_status hrnet_keypoint_covariances(const float *heatmaps, size_t n, int32_t joints,
                                        int32_t heatmap_height, int32_t heatmap_width,
                                        const hrnet_box *boxes, int32_t input_height, int32_t input_width,
                                        float *covariances, size_t covariance_capacity);

/* ---------------------------------------------------------------------------------------- */
/* 3D keypoints from an aligned depth image                                                  */

/** Depth pixel layouts. 0 (or NaN) means "no measurement" in both. */
typedef enum hrnet_depth_format {
    HRNET_DEPTH_UINT16_MM = 0,   /**< uint16 millimetres (RealSense, Kinect, OAK: 16UC1) */
    HRNET_DEPTH_FLOAT32_M = 1    /**< float32 metres (32FC1) */
} hrnet_depth_format;

/** A depth image aligned with the colour frame the keypoints are in (same size, same pixels).
 *  `stride` is the number of bytes from one row to the next, at least width x 2 (or 4). */
typedef struct hrnet_depth_image {
    const void *data;
    int32_t width;
    int32_t height;
    size_t stride;
    int32_t format;   /**< an hrnet_depth_format */
} hrnet_depth_image;

/** Pinhole intrinsics of the (aligned) camera, in pixels: u = fx X / Z + cx, v = fy Y / Z + cy. */
typedef struct hrnet_intrinsics {
    double fx, fy, cx, cy;
} hrnet_intrinsics;

/** Options of hrnet_lift_depth. Fill with hrnet_lift_options_init(). Added in 0.3. */
typedef struct hrnet_lift_options {
    size_t struct_size;          /**< set by hrnet_lift_options_init() */
    /** Half-size of the square window of depth pixels read around each joint (default 4: 9x9). */
    int32_t window_radius;
    /** Joints scoring below this (default 0.2) are not lifted (valid 0). */
    float min_score;
    /** Depths within this many metres of each other belong to one surface (default 0.05, and
     *  never less than 2% of the depth): the window's nearest surface with enough pixels (at
     *  least window_radius + 1 and 3; if none has, the largest) is the joint's, and its median
     *  depth the joint's Z, so a thin limb in front of a wall gets the limb's depth, not the wall's. */
    double cluster_gap;
    /** Standard deviation of the sensor's depth noise relative to depth (default 0.01 = 1%),
     *  added to the spread of the chosen surface in the Z variance. */
    double depth_noise;
    /** Depths outside [min_depth, max_depth] metres are ignored (defaults 0.1 and 20). */
    double min_depth;
    double max_depth;
} hrnet_lift_options;

/** Fills `options` with the defaults. NULL is a no-op. Added in 0.3. */
void hrnet_lift_options_init(hrnet_lift_options *options);

/** Lifts n people's keypoints (n x joints x 3: x, y, score in the depth image's pixels) to
 *  camera-frame 3D: for each joint X, Y, Z in metres (Z along the optical axis), a validity flag,
 *  and optionally a 3x3 covariance (m^2, row-major) combining the joint's 2D covariance
 *  (`covariances`, n x joints x 4 as hrnet_keypoint_covariances gives, or NULL for 1 pixel^2
 *  each way) with the depth spread of the chosen surface and the sensor noise, through the
 *  pinhole projection's Jacobian. A joint is invalid (valid 0, its point and covariance 0) when
 *  its score is below min_score, it lies outside the image, or its window holds no usable
 *  depth. capacity counts joints: points holds capacity x 3 floats, valid capacity bytes,
 *  covariances3d (or NULL) capacity x 9 floats; n x joints must fit. `options` may be NULL (the
 *  defaults). Given 2D covariances must be finite with xx, yy >= 0 (xy and yx are averaged).
 *  n = 0 returns HRNET_OK with nothing written (the depth image, intrinsics and options are
 *  still checked; keypoints and the outputs may be NULL). Needs no session: failures
 *  are reported through hrnet_last_error(NULL). Added in 0.3. */
hrnet_status hrnet_lift_depth(const float *keypoints, const float *covariances, size_t n, int32_t joints,
                              const hrnet_depth_image *depth, const hrnet_intrinsics *intrinsics,
                              const hrnet_lift_options *options, float *points, uint8_t *valid,
                              float *covariances3d, size_t capacity);

/* ---------------------------------------------------------------------------------------- */
/* Tracking people through a video or a live stream                                          */

/** Opaque: the people followed through a stream (their ids, motion and smoothing filters).
 *  One thread at a time; it holds no session, so one tracker per stream and any session. */
typedef struct hrnet_tracker hrnet_tracker;

/** Tracker options. Fill with hrnet_tracker_options_init() before changing fields. Added in 0.3. */
typedef struct hrnet_tracker_options {
    size_t struct_size;          /**< set by hrnet_tracker_options_init() */
    /** 1 (default): keypoints are smoothed with a One Euro filter per joint coordinate, driven
     *  by the timestamps given (so uneven frame intervals and dropped frames behave); 0: the
     *  smoothed keypoints equal the raw ones. */
    int32_t smoothing;
    /** One Euro minimum cutoff frequency in Hz (default 2.0): lower = steadier when still. */
    double min_cutoff;
    /** One Euro speed coefficient (default 8.0): higher = less lag in fast motion. Speeds are
     *  measured in person sizes (the square root of the area the joints span) per second, so
     *  the same values suit near and far people. The defaults were chosen on the bundled
     *  synthetic videos (README "Tracking"): jitter down by about 45%, keypoint AP not below
     *  per-frame estimation's. */
    double beta;
    /** One Euro cutoff of the speed estimate in Hz (default 1.0). */
    double derivative_cutoff;
    /** Lowest similarity (0..1, default 0.3) at which a pose is given to an existing track; the
     *  similarity is the mean of OKS and box IoU between the track's motion-predicted pose and
     *  box and the new ones. */
    double match_threshold;
    /** Frames a track that was not found is kept (default 30) so the person gets the same id
     *  back when found again; then it ends. */
    int32_t max_lost_frames;
    /** Frames a new person must be found in before it is reported (default 1 = at once). */
    int32_t confirm_frames;
    /** A track carried forward without a detector box (see hrnet_tracker_update) counts as
     *  found only if its person score is at least this (default 0.3); else it is lost. */
    double min_carry_score;
    /** OKS-NMS threshold over a frame's detections before association (default 0.9). */
    double nms_threshold;
} hrnet_tracker_options;

/** What hrnet_tracker_update() reports: the people reported on this frame, in caller-owned
 *  arrays of `capacity` people each (joint-sized arrays hold capacity x joints x 3 floats).
 *  Array pointers other than track_ids and keypoints may be NULL (not wanted). Added in 0.3. */
typedef struct hrnet_tracker_result {
    size_t struct_size;          /**< set by the caller to sizeof(hrnet_tracker_result) */
    size_t capacity;             /**< people each array holds */
    /** Output: people reported. On HRNET_ERR_BUFFER_TOO_SMALL, the capacity needed. */
    size_t count;
    int64_t *track_ids;          /**< ids, >= 1, never reused in a tracker's life (nor after reset) */
    float *keypoints;            /**< smoothed keypoints, people x joints x 3 (x, y, score), frame pixels */
    float *raw_keypoints;        /**< or NULL: the network's keypoints on this frame, unsmoothed */
    float *scores;               /**< or NULL: person scores, as hrnet_estimate_boxes gives */
    float *boxes;                /**< or NULL: people x 4 (x, y, width, height), the box the pose came from */
    int32_t *frames_since_detected; /**< or NULL: 0 if a detector box gave the pose on this frame,
                                         k if the last one was k frames ago (carried forward) */
    float *covariances;          /**< or NULL: people x joints x 4, the raw keypoints' covariances
                                      (hrnet_keypoint_covariances), frame pixels^2 */
} hrnet_tracker_result;

/** Fills `options` with the defaults. NULL is a no-op. Added in 0.3. */
void hrnet_tracker_options_init(hrnet_tracker_options *options);
/** Creates a tracker. `options` may be NULL (defaults). Out-of-range options (a negative or
 *  non-finite value, match_threshold or nms_threshold outside 0..1, confirm_frames < 1) are
 *  HRNET_ERR_INVALID_ARGUMENT. Failures go to hrnet_last_error(NULL). Added in 0.3. */
hrnet_status hrnet_tracker_create(const hrnet_tracker_options *options, hrnet_tracker **out_tracker);
/** Frees the tracker. NULL is a no-op. Added in 0.3. */
void hrnet_tracker_close(hrnet_tracker *tracker);
/** Forgets every track and the last timestamp (a new scene or stream). Ids keep counting up:
 *  an id is never given twice by one tracker. NULL is a no-op. Added in 0.3. */
void hrnet_tracker_reset(hrnet_tracker *tracker);

/** Advances the tracker by one frame taken at `timestamp_seconds` (any origin; equal to the
 *  previous one is allowed and lets no time pass for the filters; NaN, infinite or decreasing is
 *  HRNET_ERR_INVALID_ARGUMENT).
 *  boxes: this frame's detector boxes (n_boxes of them, NULL if 0). n_boxes = 0 means "no
 *  detector on this frame", not "nobody": every live track is carried forward with a box
 *  derived from its last keypoints (enlarged, moved by its predicted motion), so a host may run
 *  its detector every N frames. On a frame with boxes, a track no box matched is carried forward
 *  the same way. A carried box whose centre leaves the frame ends its track; a carried pose
 *  scoring below min_carry_score, or landing on another tracked person, makes the track lost.
 *  Each frame: poses for the boxes (hrnet_estimate_boxes with `options`, NULL = defaults), then
 *  OKS-NMS, then one-to-one optimal assignment (Hungarian) of poses to tracks by similarity with
 *  each track's constant-velocity prediction, new tracks for poses left over, then smoothing.
 *  People are reported in increasing track id. The session's joint count is fixed by the first
 *  update after creation or reset; a session with another one is HRNET_ERR_INVALID_ARGUMENT.
 *  Boxes are checked as hrnet_estimate_boxes checks them; at most 65536 per frame. Any failure (including
 *  HRNET_ERR_BUFFER_TOO_SMALL, which sets result->count to the people needed) leaves the tracker
 *  exactly as it was, so the call can be repeated. Messages go to hrnet_last_error(session).
 *  Added in 0.3. */
hrnet_status hrnet_tracker_update(hrnet_tracker *tracker, hrnet_session *session, const hrnet_image *frame,
                                  double timestamp_seconds, const hrnet_box *boxes, size_t n_boxes,
                                  const hrnet_estimate_options *options, hrnet_tracker_result *result);

/* ---------------------------------------------------------------------------------------- */
/* Skeletons (for hosts that draw their own overlays). All returned pointers are static.      */

typedef enum hrnet_skeleton {
    HRNET_SKELETON_COCO17 = 0,
    HRNET_SKELETON_MPII16 = 1
} hrnet_skeleton;

/** The skeleton of a model with `joints` heatmaps (17 -> COCO, 16 -> MPII), or -1. */
int32_t hrnet_skeleton_for_joints(int32_t joints);
/** Number of joints of a skeleton, or -1 if unknown. */
int32_t hrnet_skeleton_joint_count(int32_t skeleton);
/** Name of a joint ("left_shoulder"), or NULL if out of range. */
const char *hrnet_skeleton_joint_name(int32_t skeleton, int32_t joint);
/** Limbs to draw: returns their number and points *pairs at 2 x that many joint indices; -1 if
 *  the skeleton is unknown. */
int32_t hrnet_skeleton_limbs(int32_t skeleton, const int32_t **pairs);
/** Left/right pairs (for the flip test), like hrnet_skeleton_limbs. */
int32_t hrnet_skeleton_flip_pairs(int32_t skeleton, const int32_t **pairs);
/** OKS sigmas, one per joint, or NULL if the skeleton has none (MPII). */
const float *hrnet_skeleton_sigmas(int32_t skeleton);

#ifdef __cplusplus
}
#endif
#endif /* HRNET_H */
