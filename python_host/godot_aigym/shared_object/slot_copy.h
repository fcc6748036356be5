/*
 * slot_copy.h - the copy kernels of _slotcopy.c (plain C, no Python): slot_copy() copies n
 * bytes forward or backward, streaming all but the last `keep` bytes in copy order where
 * the CPU has non-temporal stores (see _slotcopy.c's top comment for why).
 */
#ifndef AIGYM_SLOT_COPY_H
#define AIGYM_SLOT_COPY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__SSE2__)
#include <immintrin.h>
#define HAVE_STREAM 1
#else
#define HAVE_STREAM 0
#endif

#if HAVE_STREAM
static int have_avx2; /* set once by the module's init (__builtin_cpu_supports) */

/* Streaming copy of the 64-byte-aligned destination range; n is a multiple of 64.
 * Forward, or backward (from the last line to the first).  SSE2: CPUs without AVX2. */
static void stream_copy_sse2(char *dst, const char *src, size_t n, int backward) {
    for (size_t j = 0; j < n; j += 64) {
        size_t i = backward ? n - 64 - j : j;
        __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(src + i + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(src + i + 32));
        __m128i d = _mm_loadu_si128((const __m128i *)(src + i + 48));
        _mm_stream_si128((__m128i *)(dst + i), a);
        _mm_stream_si128((__m128i *)(dst + i + 16), b);
        _mm_stream_si128((__m128i *)(dst + i + 32), c);
        _mm_stream_si128((__m128i *)(dst + i + 48), d);
    }
    /* Order the streaming stores before the ordinary stores that publish the slot. */
    _mm_sfence();
}

/* The same with 32-byte loads and streaming stores, two lines per iteration (a lone 64-byte
 * line at the end of a forward copy, the start of a backward one): on the 512 KiB-L2 EPYC a
 * 4.3 MB slot streamed in ~197 us where the SSE2 loop took ~275 (interleaved, quiet). */
__attribute__((target("avx2"))) static void stream_copy_avx2(char *dst, const char *src, size_t n, int backward) {
    size_t odd = n & 127, pairs = n - odd;
    if (backward && odd) stream_copy_sse2(dst + pairs, src + pairs, odd, 1);
    for (size_t j = 0; j < pairs; j += 128) {
        size_t i = backward ? pairs - 128 - j : j;
        __m256i a = _mm256_loadu_si256((const __m256i *)(src + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(src + i + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(src + i + 64));
        __m256i d = _mm256_loadu_si256((const __m256i *)(src + i + 96));
        _mm256_stream_si256((__m256i *)(dst + i), a);
        _mm256_stream_si256((__m256i *)(dst + i + 32), b);
        _mm256_stream_si256((__m256i *)(dst + i + 64), c);
        _mm256_stream_si256((__m256i *)(dst + i + 96), d);
    }
    if (!backward && odd) stream_copy_sse2(dst + pairs, src + pairs, odd, 0);
    _mm_sfence(); /* as above */
}

static void stream_copy(char *dst, const char *src, size_t n, int backward) {
    if (have_avx2) stream_copy_avx2(dst, src, n, backward);
    else stream_copy_sse2(dst, src, n, backward);
}

/* Ordinary stores, from the end to the start (glibc copies forward only). */
__attribute__((target("avx2"))) static void back_copy_avx2(char *dst, const char *src, size_t n) {
    size_t tail = (uintptr_t)(dst + n) & 31;
    if (tail > n) tail = n;
    memcpy(dst + n - tail, src + n - tail, tail);
    n -= tail;
    while (n >= 128) {
        n -= 128;
        __m256i d = _mm256_loadu_si256((const __m256i *)(src + n + 96));
        __m256i c = _mm256_loadu_si256((const __m256i *)(src + n + 64));
        __m256i b = _mm256_loadu_si256((const __m256i *)(src + n + 32));
        __m256i a = _mm256_loadu_si256((const __m256i *)(src + n));
        _mm256_store_si256((__m256i *)(dst + n + 96), d);
        _mm256_store_si256((__m256i *)(dst + n + 64), c);
        _mm256_store_si256((__m256i *)(dst + n + 32), b);
        _mm256_store_si256((__m256i *)(dst + n), a);
    }
    memcpy(dst, src, n);
}

#endif

/* Backward in 4 KiB blocks, each an ordinary forward memcpy (no AVX2, other architectures). */
static void back_copy_blocks(char *dst, const char *src, size_t n) {
    while (n > 0) {
        size_t b = n >= 4096 ? 4096 : n;
        n -= b;
        memcpy(dst + n, src + n, b);
    }
}

static void back_copy(char *dst, const char *src, size_t n) {
#if HAVE_STREAM
    if (have_avx2) {
        back_copy_avx2(dst, src, n);
        return;
    }
#endif
    back_copy_blocks(dst, src, n);
}

/* A keep with this bit streams slot 1 only (copied backward), with the keep below the bit;
 * slot 0 (forward) gets ordinary stores: slot 0 and the source stay cached, a raw copy's
 * footprint (2n), while slot 1 goes to memory (copy_strategy.py, "one slot streamed"). */
#define SLOT_COPY_STREAM_SLOT1_ONLY ((size_t)1 << 62)

/* Copy n bytes forward or backward; the last `keep` bytes in copy order (the tail of a
 * forward copy, the head of a backward one) get ordinary stores, the rest is streamed
 * where STREAMING (keep >= n: all ordinary stores). */
static void slot_copy(char *dst, const char *src, size_t n, size_t keep, int backward) {
    if (keep & SLOT_COPY_STREAM_SLOT1_ONLY) keep = backward ? keep & ~SLOT_COPY_STREAM_SLOT1_ONLY : n;
#if HAVE_STREAM
    if (keep < n) {
        /* The streamed part covers whole destination lines; ordinary stores do the rest. */
        size_t first = backward ? keep : 0, end = backward ? n : n - keep;
        size_t lo = first + (size_t)(-(uintptr_t)(dst + first) & 63);
        size_t hi = end - (size_t)((uintptr_t)(dst + end) & 63);
        if (lo < hi && hi <= end) {
            if (backward) {
                memcpy(dst + hi, src + hi, n - hi);
                stream_copy(dst + lo, src + lo, hi - lo, 1);
                back_copy(dst, src, lo);
            } else {
                memcpy(dst, src, lo);
                stream_copy(dst + lo, src + lo, hi - lo, 0);
                memcpy(dst + hi, src + hi, n - hi);
            }
            return;
        }
    }
#endif
    if (backward) back_copy(dst, src, n);
    else memcpy(dst, src, n);
}

#endif
