/*
 * readbw: the memory read bandwidth of this machine, pass by pass.
 *
 * One array (default 1 GiB, transparent huge pages advised, first touched by
 * the threads that read it) is read PASSES times by a sum with 16 independent
 * partial sums, each thread its own contiguous part, the same kind of pass as
 * the "read" kernel of ../shared/bench/stream.c. The first pass is a warm-up.
 * It prints one JSON line: the best pass, the median pass and every pass in
 * GB/s (1e9 bytes/s).
 *
 * Why both: a decode benchmark reports the median of runs lasting seconds,
 * while the best of a few 50 ms passes picks the moment the machine's memory
 * was least busy. On a virtual machine whose bandwidth moves from one pass to
 * the next, the median pass is the like-for-like bound for a median decode.
 *
 * build: gcc -O3 -march=native -fopenmp -o readbw bench/readbw.c
 * run:   OMP_NUM_THREADS=2 ./readbw [MiB] [PASSES]
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    long mib = argc > 1 ? strtol(argv[1], NULL, 10) : 1024;
    int passes = argc > 2 ? atoi(argv[2]) : 16;
    if (mib < 1 || mib > (1L << 20) || passes < 2 || passes > 10000) {
        fprintf(stderr, "usage: readbw [MiB 1..1048576] [PASSES 2..10000]\n");
        return 2;
    }
    size_t bytes = (size_t)mib << 20;
    size_t align = 2u << 20, size = (bytes + align - 1) / align * align;
    double *a = aligned_alloc(align, size);
    if (!a) {
        fprintf(stderr, "readbw: allocating %ld MiB failed: pass a smaller size\n", mib);
        return 1;
    }
    madvise(a, size, MADV_HUGEPAGE);
    size_t n = bytes / sizeof(double) / 16 * 16;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) a[i] = 1.0;

    double *gbs = calloc(passes, sizeof(double)), sink = 0;
    for (int k = 0; k < passes; k++) {
        double sum = 0, t0 = omp_get_wtime();
#pragma omp parallel reduction(+ : sum)
        {
            double acc[16] = {0};
#pragma omp for schedule(static)
            for (size_t i = 0; i < n; i += 16)
                for (int j = 0; j < 16; j++) acc[j] += a[i + j];
            for (int j = 0; j < 16; j++) sum += acc[j];
        }
        gbs[k] = (double)n * sizeof(double) / (omp_get_wtime() - t0) / 1e9;
        sink += sum;
    }
    int m = passes - 1; /* pass 0 is the warm-up */
    double *s = malloc(m * sizeof(double));
    for (int k = 0; k < m; k++) s[k] = gbs[k + 1];
    qsort(s, m, sizeof(double), cmp);
    double med = m % 2 ? s[m / 2] : (s[m / 2 - 1] + s[m / 2]) / 2;
    printf("{\"threads\":%d,\"mib\":%ld,\"passes\":%d,\"best_gbs\":%.3f,\"median_gbs\":%.3f,\"passes_gbs\":[",
           omp_get_max_threads(), mib, m, s[m - 1], med);
    for (int k = 1; k < passes; k++) printf("%s%.3f", k > 1 ? "," : "", gbs[k]);
    printf("],\"checksum\":%.1f}\n", sink);
    return 0;
}
