// ggml_gemv — the llama.cpp (ggml CPU backend) peer of lutcore's GEMV benchmark.
//
// Times one y = W·x product, ggml_mul_mat(W, X), through ggml's public API the
// way llama.cpp runs it on the CPU: a CPU backend (ggml_backend_cpu_init) with
// a persistent thread pool, weights placed in the CPU_REPACK buffer type
// whenever ggml would repack that type on this CPU (llama.cpp's default; e.g.
// Q4_0 -> Q4_0x8 on AVX2), otherwise in the plain CPU buffer.
//
//   W  ggml tensor of type T, ne = [K, M]  (M output features, K inputs),
//      quantized with ggml_quantize_chunk from random ternary {-1,0,1}*scale
//   X  f32, ne = [K, N]                    (N batch tokens)
//   Y  f32, ne = [M, N]
//
// What the time includes: the whole mul_mat node, i.e. ggml quantizing the f32
// activations to the type's vec_dot_type (Q8_K for TQ1_0/TQ2_0/Q2_K, Q8_0 for
// Q4_0) and then the quantized dot products. That is fair: lutcore's kernels
// likewise start from activations that have to be turned into int8 and into
// lookup tables, and that work is inside our timing too.
//
// Modes:
//   cold  before every timed repeat each of the `threads` OpenMP threads writes
//         and reads its own 64 MiB buffer (not timed), which evicts W from L1,
//         L2 and L3 of every core used; X (K*N floats) is then read once again,
//         untimed, since in real inference the activations were just written
//         by the previous layer. So W comes from DRAM, X from cache.
//   hot   no eviction: W is as cached as its size lets it be.
//
// Output: one JSON object on stdout, e.g.
//   {"peer":"llama.cpp","type":"tq2_0","m":8640,"k":3200,"n":1,"threads":1,
//    "mode":"cold","us_median":...,"repeats":15,"weight_bytes":...}
// plus some fields for the record (min/max/mean, layout, vec_dot_type, ggml
// version, check_rel_err: the relative L2 error of Y against a double-precision
// product of the dequantized W and X, a sanity check of the run).
// A shape the type cannot represent (K not a multiple of its block size)
// prints {"peer":"llama.cpp","type":...,"m":..,"k":..,"n":..,"skipped":"K % 256 != 0"}
// and exits 0 -- unless --pad-k on: K is then rounded up to the block size
// with zero weights and zero activations in the extra columns (what a model
// converter would have to do), and the record carries "k_padded". Note that
// llama.cpp's own quantizer does not pad: a tensor whose rows are not a
// multiple of 256 falls back to another type (e.g. Q4_0/Q8_0) instead.
//
// Usage: ggml-gemv --type tq2_0 --m 8640 --k 3200 [--n 1] [--threads 1]
//                  [--mode cold|hot] [--repeats R] [--warmup W]
//                  [--repack auto|off] [--seed S] [--pad-k on|off]
//        ggml-gemv --version
// --n, --threads and --mode also take comma-separated lists (e.g. --n 1,8
// --threads 1,2 --mode cold,hot): W is then quantized once and every
// combination is timed in turn, one JSON line each. --repeats defaults to 15
// (cold) / 50 (hot); a given --repeats applies to both.
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "ggml.h"
#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"

#define EVICT_BYTES (64u << 20)

static void die(const char * msg) {
    fprintf(stderr, "ggml-gemv: %s\n", msg);
    exit(2);
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec * 1e-3;
}

// xorshift64*: reproducible, independent of libc's rand().
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng_next(void) {
    uint64_t x = rng_state;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}
static float rng_unit(void) { // [-1, 1)
    return (float) ((double) (rng_next() >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

static int cmp_double(const void * a, const void * b) {
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

struct type_name { const char * name; enum ggml_type type; };
static const struct type_name TYPES[] = {
    { "tq1_0", GGML_TYPE_TQ1_0 },
    { "tq2_0", GGML_TYPE_TQ2_0 },
    { "q2_k",  GGML_TYPE_Q2_K  },
    { "q4_0",  GGML_TYPE_Q4_0  },
    { "q8_0",  GGML_TYPE_Q8_0  },
    { "f16",   GGML_TYPE_F16   },
    { "f32",   GGML_TYPE_F32   },
};

// Per-thread eviction buffers: written (so dirty lines are pushed out too)
// and read back. The sum is kept in a volatile so nothing is optimized away.
static volatile uint64_t evict_sink;
static void evict(uint8_t ** bufs, int n_threads, const float * x, size_t x_len) {
    uint64_t total = 0;
    #pragma omp parallel num_threads(n_threads) reduction(+:total)
    {
        uint8_t * b = bufs[omp_get_thread_num()];
        static unsigned stamp = 0; // a different value each round
        unsigned s = __atomic_add_fetch(&stamp, 1, __ATOMIC_RELAXED);
        memset(b, (int) (s & 0xff), EVICT_BYTES);
        const uint64_t * p = (const uint64_t *) b;
        uint64_t acc = 0;
        for (size_t i = 0; i < EVICT_BYTES / 8; i += 8) acc += p[i];
        total += acc;
    }
    // Activations back into cache (see the header: they are hot in practice).
    float fx = 0.0f;
    for (size_t i = 0; i < x_len; i += 16) fx += x[i];
    evict_sink += total + (uint64_t) (fx != 0.0f);
}

static ggml_backend_buffer_type_t find_repack_buft(ggml_backend_dev_t dev) {
    ggml_backend_reg_t reg = ggml_backend_cpu_reg();
    ggml_backend_dev_get_extra_bufts_t get_extra =
        (ggml_backend_dev_get_extra_bufts_t) ggml_backend_reg_get_proc_address(reg, "ggml_backend_dev_get_extra_bufts");
    if (!get_extra) return NULL;
    for (ggml_backend_buffer_type_t * p = get_extra(dev); p && *p; ++p) {
        if (strcmp(ggml_backend_buft_name(*p), "CPU_REPACK") == 0) return *p;
    }
    return NULL;
}

// llama.cpp's test of whether a weight buffer type can serve an op: give the
// weight a zero-sized buffer of that type and ask the device.
static int repack_applies(ggml_backend_dev_t dev, ggml_backend_buffer_type_t buft,
                          enum ggml_type type, int64_t k, int64_t m, int64_t n) {
    struct ggml_init_params ip = { 3 * ggml_tensor_overhead() + ggml_graph_overhead(), NULL, true };
    struct ggml_context * ctx = ggml_init(ip);
    struct ggml_tensor * w = ggml_new_tensor_2d(ctx, type, k, m);
    struct ggml_tensor * x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, k, n);
    struct ggml_tensor * y = ggml_mul_mat(ctx, w, x);
    ggml_backend_buffer_t dummy = ggml_backend_buft_alloc_buffer(buft, 0);
    w->buffer = dummy;
    int ok = ggml_backend_dev_supports_op(dev, y) ? 1 : 0;
    w->buffer = NULL;
    ggml_backend_buffer_free(dummy);
    ggml_free(ctx);
    return ok;
}

// ggml's INFO lines (e.g. "repack: repack tensor W with q4_0_8x8") would mix
// with our output; keep warnings and errors, on stderr.
static void log_quiet(enum ggml_log_level level, const char * text, void * user) {
    (void) user;
    if (level == GGML_LOG_LEVEL_WARN || level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

static void usage(void) {
    fprintf(stderr,
        "usage: ggml-gemv --type tq1_0|tq2_0|q2_k|q4_0|q8_0|f16|f32 --m M --k K [--n N]\n"
        "                 [--threads T] [--mode cold|hot] [--repeats R] [--warmup W]\n"
        "                 [--repack auto|off] [--seed S] [--pad-k on|off]\n"
        "       (--n, --threads, --mode take comma-separated lists)\n"
        "       ggml-gemv --version\n");
    exit(2);
}

#define MAX_LIST 16
// Comma-separated list: positive integers, or (modes) the words cold=1 / hot=0.
static int parse_list(const char * s, long long * out, int modes) {
    int cnt = 0;
    char * dup = strdup(s), * save = NULL;
    for (char * tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (cnt == MAX_LIST) usage();
        if (modes) {
            if      (strcmp(tok, "cold") == 0) out[cnt++] = 1;
            else if (strcmp(tok, "hot") == 0)  out[cnt++] = 0;
            else usage();
        } else {
            char * end = NULL;
            long long v = strtoll(tok, &end, 10);
            if (!end || *end || v <= 0) usage();
            out[cnt++] = v;
        }
    }
    free(dup);
    if (cnt == 0) usage();
    return cnt;
}

// K as asked for; the tensors' K is larger only with --pad-k (zero columns).
static int64_t g_k_real;

struct run_result {
    double median, min, max, mean, rel_err;
};

// Times Y = W·X for one (N, threads, mode). X and Y live in their own context
// and buffer; W is shared.
static struct run_result time_one(struct ggml_tensor * W, const void * wq, int64_t m, int64_t k, int64_t n,
                                  int threads, int cold, int repeats, int warmup) {
    const enum ggml_type type = W->type;
    float * xf = malloc((size_t) k * n * sizeof(float));
    if (!xf) die("out of memory");
    for (int64_t i = 0; i < k * n; ++i) xf[i] = (i % k) < g_k_real ? rng_unit() : 0.0f;

    ggml_backend_t backend = ggml_backend_cpu_init();
    if (!backend) die("ggml_backend_cpu_init failed");
    ggml_backend_cpu_set_n_threads(backend, threads);
    struct ggml_threadpool_params tpp = ggml_threadpool_params_default(threads);
    struct ggml_threadpool * tp = ggml_threadpool_new(&tpp);
    if (!tp) die("ggml_threadpool_new failed");
    ggml_backend_cpu_set_threadpool(backend, tp);

    struct ggml_init_params ip = { 4 * ggml_tensor_overhead(), NULL, true };
    struct ggml_context * ctx_a = ggml_init(ip);
    struct ggml_tensor * X = ggml_new_tensor_2d(ctx_a, GGML_TYPE_F32, k, n);
    struct ggml_tensor * Y = ggml_mul_mat(ctx_a, W, X);
    ggml_set_name(X, "X"); ggml_set_name(Y, "Y");
    ggml_backend_buffer_t buf_a = ggml_backend_alloc_ctx_tensors_from_buft(ctx_a, ggml_backend_cpu_buffer_type());
    if (!buf_a) die("buffer allocation failed");
    ggml_backend_tensor_set(X, xf, 0, ggml_nbytes(X));

    struct ggml_init_params gp = { ggml_graph_overhead() + 2 * ggml_tensor_overhead(), NULL, true };
    struct ggml_context * ctx_g = ggml_init(gp);
    struct ggml_cgraph * gf = ggml_new_graph(ctx_g);
    ggml_build_forward_expand(gf, Y);

    const float * x_host = (const float *) X->data; // CPU buffers are host memory

    uint8_t ** ev = NULL;
    if (cold) {
        ev = calloc((size_t) threads, sizeof(*ev));
        for (int t = 0; t < threads; ++t) {
            ev[t] = aligned_alloc(64, EVICT_BYTES);
            if (!ev[t]) die("out of memory");
            memset(ev[t], 1, EVICT_BYTES);
        }
    }

    // warm-up (thread pool start, work buffer allocation), then timed repeats
    for (int i = 0; i < warmup; ++i) {
        if (ggml_backend_graph_compute(backend, gf) != GGML_STATUS_SUCCESS) die("graph compute failed");
    }
    double * t = malloc((size_t) repeats * sizeof(double));
    for (int r = 0; r < repeats; ++r) {
        if (cold) evict(ev, threads, x_host, (size_t) (k * n));
        const double t0 = now_us();
        enum ggml_status st = ggml_backend_graph_compute(backend, gf);
        const double t1 = now_us();
        if (st != GGML_STATUS_SUCCESS) die("graph compute failed");
        t[r] = t1 - t0;
    }

    // Sanity check: Y against a double product of the dequantized W and X, on
    // up to 64 rows spread over M. What is left is the activation quantization
    // to the vec_dot_type plus f32 accumulation (around 1e-2 or less).
    float * y = malloc((size_t) m * n * sizeof(float));
    ggml_backend_tensor_get(Y, y, 0, (size_t) m * n * sizeof(float));
    float * wrow = malloc((size_t) k * sizeof(float));
    const struct ggml_type_traits * tt = ggml_get_type_traits(type);
    double err2 = 0.0, ref2 = 0.0;
    const int64_t rows = m < 64 ? m : 64;
    for (int64_t ri = 0; ri < rows; ++ri) {
        const int64_t row = ri * (m / rows);
        const void * src = (const uint8_t *) wq + (size_t) row * ggml_row_size(type, k);
        if (type == GGML_TYPE_F32) memcpy(wrow, src, (size_t) k * sizeof(float));
        else tt->to_float(src, wrow, k);
        for (int64_t j = 0; j < n; ++j) {
            double acc = 0.0;
            for (int64_t i = 0; i < k; ++i) acc += (double) wrow[i] * (double) xf[j * k + i];
            const double d = (double) y[j * m + row] - acc;
            err2 += d * d;
            ref2 += acc * acc;
        }
    }

    struct run_result res;
    res.rel_err = ref2 > 0.0 ? sqrt(err2 / ref2) : sqrt(err2);
    double sum = 0.0;
    for (int r = 0; r < repeats; ++r) sum += t[r];
    qsort(t, (size_t) repeats, sizeof(double), cmp_double);
    res.median = repeats % 2 ? t[repeats / 2] : 0.5 * (t[repeats / 2 - 1] + t[repeats / 2]);
    res.min = t[0];
    res.max = t[repeats - 1];
    res.mean = sum / repeats;

    ggml_backend_buffer_free(buf_a);
    ggml_free(ctx_g);
    ggml_free(ctx_a);
    ggml_backend_free(backend);
    ggml_threadpool_free(tp);
    if (ev) { for (int i = 0; i < threads; ++i) free(ev[i]); free(ev); }
    free(t); free(y); free(wrow); free(xf);
    return res;
}

int main(int argc, char ** argv) {
    const char * type_s = NULL, * n_s = "1", * threads_s = "1", * mode_s = "cold", * repack = "auto";
    long long m = 0, k = 0;
    int repeats = -1, warmup = 3;
    unsigned long long seed = 1;
    int pad_k = 0;

    ggml_log_set(log_quiet, NULL);
    for (int i = 1; i < argc; ++i) {
        const char * a = argv[i];
        if (strcmp(a, "--version") == 0) {
            printf("ggml %s commit %s\n", ggml_version(), ggml_commit());
            return 0;
        }
        if (i + 1 >= argc) usage();
        const char * v = argv[++i];
        if      (strcmp(a, "--type") == 0)    type_s    = v;
        else if (strcmp(a, "--m") == 0)       m         = atoll(v);
        else if (strcmp(a, "--k") == 0)       k         = atoll(v);
        else if (strcmp(a, "--n") == 0)       n_s       = v;
        else if (strcmp(a, "--threads") == 0) threads_s = v;
        else if (strcmp(a, "--mode") == 0)    mode_s    = v;
        else if (strcmp(a, "--repeats") == 0) repeats   = atoi(v);
        else if (strcmp(a, "--warmup") == 0)  warmup    = atoi(v);
        else if (strcmp(a, "--repack") == 0)  repack    = v;
        else if (strcmp(a, "--seed") == 0)    seed      = strtoull(v, NULL, 10);
        else if (strcmp(a, "--pad-k") == 0)   pad_k     = strcmp(v, "0") != 0 && strcmp(v, "off") != 0;
        else usage();
    }
    if (!type_s || m <= 0 || k <= 0 || warmup < 0) usage();
    long long ns[MAX_LIST], ths[MAX_LIST], modes[MAX_LIST];
    const int n_ns = parse_list(n_s, ns, 0), n_ths = parse_list(threads_s, ths, 0);
    const int n_modes = parse_list(mode_s, modes, 1);
    if (strcmp(repack, "auto") != 0 && strcmp(repack, "off") != 0) usage();
    rng_state ^= seed * 0xD1B54A32D192ED03ull;
    if (rng_state == 0) rng_state = 1;

    enum ggml_type type = GGML_TYPE_COUNT;
    for (size_t i = 0; i < sizeof(TYPES) / sizeof(TYPES[0]); ++i) {
        if (strcmp(TYPES[i].name, type_s) == 0) type = TYPES[i].type;
    }
    if (type == GGML_TYPE_COUNT) die("unknown --type");

    const int64_t blck = ggml_blck_size(type);
    const long long k_real = k;
    g_k_real = k_real;
    if (k % blck != 0 && pad_k) k = (k + blck - 1) / blck * blck;
    if (k % blck != 0) {
        for (int a = 0; a < n_ns; ++a) for (int b = 0; b < n_ths; ++b) for (int c = 0; c < n_modes; ++c) {
            printf("{\"peer\":\"llama.cpp\",\"type\":\"%s\",\"m\":%lld,\"k\":%lld,\"n\":%lld,"
                   "\"threads\":%lld,\"mode\":\"%s\",\"skipped\":\"K %% %lld != 0\"}\n",
                   type_s, m, k, ns[a], ths[b], modes[c] ? "cold" : "hot", (long long) blck);
        }
        return 0;
    }

    // --- weights: ternary {-1,0,1}*scale in f32, quantized by ggml ---------
    const float scale = 0.0375f;
    float * wf = malloc((size_t) m * k * sizeof(float));
    if (!wf) die("out of memory");
    for (int64_t i = 0; i < m * k; ++i) {
        if (i % k >= k_real) { wf[i] = 0.0f; continue; }
        uint64_t r = rng_next() % 3;
        wf[i] = r == 0 ? -scale : (r == 1 ? 0.0f : scale);
    }
    const size_t w_bytes = ggml_row_size(type, k) * (size_t) m;
    void * wq = malloc(w_bytes);
    if (!wq) die("out of memory");
    if (ggml_quantize_requires_imatrix(type)) die("type needs an importance matrix");
    if (type == GGML_TYPE_F32) memcpy(wq, wf, w_bytes);
    else if (ggml_quantize_chunk(type, wf, wq, 0, m, k, NULL) != w_bytes) die("ggml_quantize_chunk wrote an unexpected size");
    free(wf);

    // W goes where llama.cpp would put it (CPU_REPACK if ggml repacks this
    // type on this CPU), unless --repack off.
    ggml_backend_dev_t dev = ggml_backend_reg_dev_get(ggml_backend_cpu_reg(), 0);
    ggml_backend_buffer_type_t w_buft = ggml_backend_cpu_buffer_type();
    if (strcmp(repack, "auto") == 0) {
        ggml_backend_buffer_type_t rb = find_repack_buft(dev);
        if (rb && repack_applies(dev, rb, type, k, m, ns[0])) w_buft = rb;
    }
    const char * layout = w_buft == ggml_backend_cpu_buffer_type() ? "plain" : ggml_backend_buft_name(w_buft);
    struct ggml_init_params ip = { 2 * ggml_tensor_overhead(), NULL, true };
    struct ggml_context * ctx_w = ggml_init(ip);
    struct ggml_tensor * W = ggml_new_tensor_2d(ctx_w, type, k, m);
    ggml_set_name(W, "W");
    ggml_backend_buffer_t buf_w = ggml_backend_alloc_ctx_tensors_from_buft(ctx_w, w_buft);
    if (!buf_w) die("weight buffer allocation failed");
    ggml_backend_buffer_set_usage(buf_w, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
    ggml_backend_tensor_set(W, wq, 0, w_bytes); // repacks when W is in CPU_REPACK
    const enum ggml_type vdt = ggml_get_type_traits_cpu(type)->vec_dot_type;

    char pad_note[64] = "";
    if (k != k_real) snprintf(pad_note, sizeof pad_note, "\"k_padded\":%lld,", k);

    int bad = 0;
    for (int a = 0; a < n_ns; ++a) for (int b = 0; b < n_ths; ++b) for (int c = 0; c < n_modes; ++c) {
        const int cold = (int) modes[c];
        const int reps = repeats > 0 ? repeats : (cold ? 15 : 50);
        struct run_result r = time_one(W, wq, m, k, ns[a], (int) ths[b], cold, reps, warmup);
        if (!(r.rel_err < 0.25)) bad = 1;
        printf("{\"peer\":\"llama.cpp\",\"type\":\"%s\",\"m\":%lld,\"k\":%lld,\"n\":%lld,"
               "\"threads\":%lld,\"mode\":\"%s\",\"us_median\":%.1f,\"repeats\":%d,"
               "\"weight_bytes\":%zu,%s\"us_min\":%.1f,\"us_max\":%.1f,\"us_mean\":%.1f,"
               "\"warmup\":%d,\"layout\":\"%s\",\"vec_dot_type\":\"%s\","
               "\"check_rel_err\":%.3g,\"ggml\":\"%s %s\"}\n",
               type_s, m, k_real, ns[a], ths[b], cold ? "cold" : "hot", r.median, reps,
               w_bytes, pad_note, r.min, r.max, r.mean,
               warmup, layout, ggml_type_name(vdt),
               r.rel_err, ggml_version(), ggml_commit());
        fflush(stdout);
    }

    ggml_backend_buffer_free(buf_w);
    ggml_free(ctx_w);
    free(wq);
    if (bad) fprintf(stderr, "ggml-gemv: check_rel_err above 0.25: the product looks wrong\n");
    return bad ? 3 : 0;
}
