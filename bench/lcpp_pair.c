/*
 * lcpp_pair: llama.cpp's decode as a fraction of the memory-bandwidth bound,
 * token by token, measured the way `engine` measures ours with
 * ENGINE_READPAIR=1 (bench/engine/read.go).
 *
 * Each decoded token (llama_decode of one token, then the argmax of its
 * logits, on llama.cpp's persistent CPU threadpool) is followed by one read
 * pass over as many bytes as llama_model_size reports: a plain sum with 16
 * partial sums (as bench/readbw.c), on transparent huge pages, one
 * contiguous part per thread, timed from the moment every reading thread is
 * ready to the moment the last one is done. llama.cpp's threadpool is paused
 * during the pass so that its polling threads do not share the CPUs with it.
 * Per token, the pass's time over the token's is the fraction of the bound
 * the token reached, with a bandwidth read milliseconds from it; on a machine
 * whose bandwidth drifts by a third between runs that is the like-for-like
 * figure. Prints one JSON line with the median tokens/s (tokens' time only),
 * the median read bandwidth and the median and quartiles of the fraction.
 *
 * Method of the decode as ../shared/bench/llamacpp_tp_bench.c: a warm-up of
 * the prompt + 8 tokens, then a fresh KV cache, the prompt (BOS +
 * pseudo-random ordinary tokens) as one batch and N_GEN tokens one at a time.
 *
 * build (INC, BINS as for llamacpp_tp_bench):
 *   gcc -O3 -march=native -o lcpp_pair bench/lcpp_pair.c -I"$INC" -L"$BINS" \
 *       -l:libllama.v0.5.0.so -l:libggml.v0.5.0.so -l:libggml-base.so \
 *       -lpthread -ldl -Wl,-rpath,"$BINS"
 * run:
 *   GGML_BACKEND_DIR="$BINS" ./lcpp_pair MODEL.gguf THREADS N_PROMPT N_GEN
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "llama.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void quiet_log(enum ggml_log_level level, const char *text, void *ud) {
    (void)ud;
    if (level >= GGML_LOG_LEVEL_WARN) fputs(text, stderr);
}

/* The read probe: n doubles from a, one part per thread. */
static struct {
    double *a;
    size_t n;
    int threads;
    pthread_barrier_t ready;
    double ends[64], sums[64];
} probe;

/* read_range reads thread t's part and notes when it is done. */
static void read_range(int t) {
    size_t lo = probe.n / 16 * t / probe.threads * 16, hi = probe.n / 16 * (t + 1) / probe.threads * 16;
    double acc[16] = {0};
    for (size_t i = lo; i < hi; i += 16)
        for (int j = 0; j < 16; j++) acc[j] += probe.a[i + j];
    for (int j = 0; j < 16; j++) probe.sums[t] += acc[j];
    probe.ends[t] = now_s();
}

static void *read_part(void *arg) {
    pthread_barrier_wait(&probe.ready);
    read_range((int)(intptr_t)arg);
    return NULL;
}

/* read_pass reads the whole buffer once and returns its seconds. */
static double read_pass(void) {
    pthread_t th[64];
    pthread_barrier_init(&probe.ready, NULL, (unsigned)probe.threads);
    for (int t = 1; t < probe.threads; t++) pthread_create(&th[t], NULL, read_part, (void *)(intptr_t)t);
    /* thread 0 takes the start time once all have reached the barrier */
    pthread_barrier_wait(&probe.ready);
    double t0 = now_s();
    read_range(0);
    double end = probe.ends[0];
    for (int t = 1; t < probe.threads; t++) {
        pthread_join(th[t], NULL);
        if (probe.ends[t] > end) end = probe.ends[t];
    }
    pthread_barrier_destroy(&probe.ready);
    return end - t0;
}

static llama_token argmax_last(struct llama_context *ctx, int n_vocab) {
    const float *logits = llama_get_logits_ith(ctx, -1);
    int best = 0;
    for (int i = 1; i < n_vocab; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s MODEL.gguf THREADS N_PROMPT N_GEN\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    int threads = atoi(argv[2]), n_prompt = atoi(argv[3]), n_gen = atoi(argv[4]);
    if (threads < 1 || threads > 64 || n_prompt < 1 || n_gen < 4) {
        fprintf(stderr, "lcpp_pair: THREADS must be 1..64, N_PROMPT at least 1, N_GEN at least 4\n");
        return 2;
    }
    llama_log_set(quiet_log, NULL);
    const char *bdir = getenv("GGML_BACKEND_DIR");
    if (bdir && *bdir)
        ggml_backend_load_all_from_path(bdir);
    else
        ggml_backend_load_all();
    llama_backend_init();

    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    struct llama_model *model = llama_model_load_from_file(path, mp);
    if (!model) {
        fprintf(stderr, "lcpp_pair: failed to load %s\n", path);
        return 1;
    }
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    int n_vocab = llama_vocab_n_tokens(vocab);
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)(n_prompt + n_gen + 16);
    cp.n_batch = cp.n_ubatch = (uint32_t)n_prompt;
    cp.n_seq_max = 1;
    cp.n_threads = cp.n_threads_batch = threads;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "lcpp_pair: failed to create a context\n");
        return 1;
    }

    /* The CPU backend is loaded at run time: its threadpool functions are
     * found through the registry, pause and resume in the same library. */
    ggml_backend_dev_t dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    ggml_backend_reg_t reg = dev ? ggml_backend_dev_backend_reg(dev) : NULL;
    void *tp_new_p = reg ? ggml_backend_reg_get_proc_address(reg, "ggml_threadpool_new") : NULL;
    Dl_info info;
    void *lib = tp_new_p && dladdr(tp_new_p, &info) ? dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD) : NULL;
    struct ggml_threadpool *(*tp_new)(struct ggml_threadpool_params *) = tp_new_p;
    void (*tp_pause)(struct ggml_threadpool *) = lib ? dlsym(lib, "ggml_threadpool_pause") : NULL;
    void (*tp_resume)(struct ggml_threadpool *) = lib ? dlsym(lib, "ggml_threadpool_resume") : NULL;
    if (!tp_new || !tp_pause || !tp_resume) {
        fprintf(stderr, "lcpp_pair: the CPU backend's threadpool functions were not found\n");
        return 1;
    }
    struct ggml_threadpool_params tpp = ggml_threadpool_params_default(threads);
    tpp.poll = 50; /* llamacpp_tp_bench's default */
    struct ggml_threadpool *tp = tp_new(&tpp);
    if (!tp) {
        fprintf(stderr, "lcpp_pair: threadpool creation failed\n");
        return 1;
    }
    llama_attach_threadpool(ctx, tp, tp);

    size_t bytes = llama_model_size(model), align = 2u << 20, size = (bytes + align - 1) / align * align;
    probe.a = aligned_alloc(align, size);
    if (!probe.a) {
        fprintf(stderr, "lcpp_pair: allocating the %zu-byte read buffer failed\n", bytes);
        return 1;
    }
    madvise(probe.a, size, MADV_HUGEPAGE);
    probe.n = bytes / sizeof(double) / 16 * 16;
    probe.threads = threads;
    for (size_t i = 0; i < size / sizeof(double); i++) probe.a[i] = 1.0;

    llama_token *prompt = malloc(sizeof(llama_token) * (size_t)n_prompt);
    uint64_t s = 1;
    int lo = n_vocab > 300 ? 259 : 3;
    prompt[0] = llama_vocab_bos(vocab);
    for (int i = 1; i < n_prompt; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        prompt[i] = lo + (int)((s >> 33) % (uint64_t)(n_vocab - lo));
    }
    double *tok = malloc(sizeof(double) * (size_t)n_gen), *gbs = malloc(sizeof(double) * (size_t)n_gen),
           *frac = malloc(sizeof(double) * (size_t)n_gen), total = 0;
    for (int rep = 0; rep < 2; rep++) { /* rep 0: the warm-up */
        int gen = rep ? n_gen : 8;
        llama_memory_clear(llama_get_memory(ctx), true);
        if (llama_decode(ctx, llama_batch_get_one(prompt, n_prompt)) != 0) goto fail;
        llama_token next = argmax_last(ctx, n_vocab);
        for (int i = 0; i < gen; i++) {
            double t0 = now_s();
            if (llama_decode(ctx, llama_batch_get_one(&next, 1)) != 0) goto fail;
            next = argmax_last(ctx, n_vocab);
            double dt = now_s() - t0;
            if (!rep) continue;
            tp_pause(tp);
            double rd = read_pass();
            tp_resume(tp);
            tok[i] = dt;
            total += dt;
            gbs[i] = (double)probe.n * sizeof(double) / rd / 1e9;
            frac[i] = rd / dt;
        }
    }
    qsort(gbs, (size_t)n_gen, sizeof(double), cmp);
    qsort(frac, (size_t)n_gen, sizeof(double), cmp);
    double sum = 0;
    for (int t = 0; t < threads; t++) sum += probe.sums[t];
    printf("{\"model\":\"%s\",\"model_bytes\":%zu,\"threads\":%d,\"n_prompt\":%d,\"n_gen\":%d,"
           "\"decode_tps\":%.3f,\"read_gbs_median\":%.3f,\"paired_bound_median\":%.4f,"
           "\"paired_bound_quartiles\":[%.4f,%.4f],\"checksum\":%.1f}\n",
           path, bytes, threads, n_prompt, n_gen, n_gen / total, gbs[n_gen / 2], frac[n_gen / 2], frac[n_gen / 4],
           frac[n_gen * 3 / 4], sum);
    llama_free(ctx);
    llama_model_free(model);
    return 0;
fail:
    fprintf(stderr, "lcpp_pair: llama_decode failed\n");
    return 1;
}
