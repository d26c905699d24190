/*
 * A log-linear histogram of nanosecond values, for latency percentiles.
 *
 * Values below 2^SUB_BITS have a bucket each. Above, every power of two [2^m, 2^(m+1)) is cut
 * into 2^SUB_BITS equal buckets, so a bucket is never wider than 1/128 of its values (< 0.8 %).
 * Bucket of v >= 128, with m = the index of v's highest set bit and shift = m - SUB_BITS:
 *
 *     index = (shift + 1) * 128 + (v >> shift) - 128        (v >> shift is in [128, 256))
 *
 * 58 × 128 counters cover every 64-bit value; a percentile is read as the highest value of its
 * bucket (never more than the largest value recorded), as HdrHistogram does.
 */
#ifndef LOADGEN_HISTOGRAM_H
#define LOADGEN_HISTOGRAM_H

#include <stdint.h>
#include <string.h>

#define SUB_BITS 7
#define SUB (1 << SUB_BITS)

struct histogram {
    uint64_t counts[(64 - SUB_BITS + 1) * SUB];
    uint64_t total;
    int64_t max;
};

static inline int histogram_index(uint64_t v) {
    if (v < SUB) return (int)v;
    int shift = 63 - __builtin_clzll(v) - SUB_BITS;
    return (shift + 1) * SUB + (int)((v >> shift) - SUB);
}

/* The highest value that falls in bucket i. */
static inline uint64_t histogram_highest(int i) {
    if (i < SUB) return (uint64_t)i;
    int shift = i / SUB - 1;
    uint64_t mantissa = (uint64_t)(i % SUB + SUB);
    return ((mantissa + 1) << shift) - 1;
}

static inline void histogram_reset(struct histogram *h) {
    memset(h, 0, sizeof *h);
}

static inline void histogram_record(struct histogram *h, int64_t ns) {
    if (ns < 0) ns = 0;
    h->counts[histogram_index((uint64_t)ns)]++;
    h->total++;
    if (ns > h->max) h->max = ns;
}

static inline int64_t histogram_max(const struct histogram *h) {
    return h->max;
}

/* The value at a percentile (0..100), in ns; 0 when empty. */
static inline int64_t histogram_percentile(const struct histogram *h, double percentile) {
    if (h->total == 0) return 0;
    uint64_t rank = (uint64_t)(percentile / 100.0 * (double)h->total + 0.999999);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < (int)(sizeof h->counts / sizeof h->counts[0]); i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = histogram_highest(i);
            return v < (uint64_t)h->max ? (int64_t)v : h->max;
        }
    }
    return h->max;
}

/* The same in µs, rounded up: a round trip that was recorded is never reported as 0 µs. */
static inline int64_t histogram_micros(const struct histogram *h, double percentile) {
    return (histogram_percentile(h, percentile) + 999) / 1000;
}

#endif
