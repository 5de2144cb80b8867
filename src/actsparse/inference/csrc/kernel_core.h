// The kernel building blocks on raw pointers, shared by the sparse FFN ops, the decode
// engines and the AVX2 kernels. No torch header here: the AVX2 file includes only this
// and compiles in 1.5 s of CPU, against 32 s with torch's headers (g++ -O3, Zen 4;
// results/epyc_zen4/compile_cpu.tsv).
#pragma once

#include <cstdint>

// x86 builds carry the SIMD paths (each function compiled for its own ISA and chosen at run
// time); any other CPU, or a build with ACTSPARSE_NO_SIMD (the test of that build), gets the
// portable C++ only, with no x86 header.
#if (defined(__x86_64__) || defined(__i386__)) && !defined(ACTSPARSE_NO_SIMD)
#define ACTSPARSE_X86 1
#else
#define ACTSPARSE_X86 0
#endif

namespace actsparse {

// The code path a kernel runs. Python chooses it per call (kernels.py: the best this CPU
// has, or ACTSPARSE_ISA, or the caller's choice), so one machine can test every path it has.
enum class Isa : int64_t { kPortable = 0, kAvx2 = 1, kAvx512 = 2 };
// The rows a row-streaming pass reads, idx[k, k + G) of wt [*, D], into row, and those of
// the rows `distance` further on into ahead, for its prefetches (nullptr past nnz, and for
// every row when prefetch is off). The row-streaming kernels and their read ceiling
// (read_rows) share it, so the ceiling reads what the kernels read.
inline void group_rows(const float* wt, const int32_t* idx, int64_t k, int G, int64_t nnz,
                       int64_t D, int64_t distance, bool prefetch, const float** row,
                       const char** ahead) {
  for (int g = 0; g < G; ++g) {
    row[g] = wt + static_cast<int64_t>(idx[k + g]) * D;
    const int64_t f = k + g + distance;
    ahead[g] = prefetch && f < nnz
                   ? reinterpret_cast<const char*>(wt + static_cast<int64_t>(idx[f]) * D)
                   : nullptr;
  }
}

// Whether the AVX-512 row-streaming kernels prefetch the rows ahead into L2 (chosen once
// from the CPU vendor, see sparse_ffn.cpp; ACTSPARSE_ROW_PREFETCH=0|1 overrides).
bool row_prefetch();
// Whether this CPU (and this build) can run isa.
bool isa_supported(Isa isa);
// Python's code as an Isa, or a clear error: an unknown code, or a path this CPU lacks (it
// would die of an illegal instruction).
Isa checked_isa(int64_t code);

// One active row of a block-sparse wt: where its packed blocks start, which columns they go
// to (bit c of m: block column c), and its activation.
struct BlockRow {
  const float* v;
  uint64_t m;
  float a;
};

// The int8 copy of a ReLU-type up projection W [O, D] that the screen reads
// (kernels.UpScreen): q = round(W[o] / scale[o]), qsum[o] = sum of q[o], and the per-row
// factors c1, c2 of its error bound (see up_screen.cpp).
struct UpScreenRows {
  const int8_t* q;
  const int32_t* qsum;
  const float *scale, *c1, *c2;
};
// The rows o < O whose fp32 pre-activation W[o] . x + b[o] may exceed thresh, into cand
// (ascending); returns their count. Every row left out is certainly <= thresh on the
// dense path.
int64_t screen_rows(const UpScreenRows& w, const float* b, const float* x, int64_t O, int64_t D,
                    float thresh, int32_t* cand, Isa isa);
// Dot product of two length-D float vectors.
float dot(const float* w, const float* x, int64_t D, Isa isa);
// y[o] = W[r, :] . x for o < O, r = rows[o] (every row in order when rows is null), W
// row-major [*, D]; each equal to dot(W[r], x, D, avx) bit for bit.
void gemv(const float* W, const int32_t* rows, const float* x, int64_t O, int64_t D, float* y,
          Isa isa);
// out[j] = w . X[j, :] for X [n, D], w loaded once; each equal to dot(w, X[j], D, avx) bit
// for bit.
void dots(const float* w, const float* X, int64_t n, int64_t D, float* out, Isa isa);
// Indices of the nonzero entries of a[0:n] into idx; returns their count.
int64_t extract_active(const float* a, int64_t n, int32_t* idx, Isa isa);
// y[0:D] += sum_k a[idx_k] * wt[idx_k, :] (wt row-major [F, D]), row streaming.
void down_rows(const float* a, const int32_t* idx, int64_t nnz, const float* wt, int64_t D,
               float* y, Isa isa);
// Indices of the neurons nonzero in any of the n rows of A [n, F]; returns their count.
int64_t union_active(const float* A, int64_t n, int64_t F, int32_t* idx);
// Y[j, :] += sum over the union idx of A[j, i] * wt[i, :] for j < n (Y [n, D]): each weight
// row read once for all n rows; row j's sum is bit for bit what down_rows gives for it.
void down_rows_batch(const float* A, int64_t n, int64_t F, const int32_t* idx, int64_t nnz,
                     const float* wt, int64_t D, float* Y, Isa isa);
// Columns [d0, d1) only, for a split over threads.
void down_rows_batch_range(const float* A, int64_t n, int64_t F, const int32_t* idx,
                           int64_t nnz, const float* wt, int64_t D, int64_t d0, int64_t d1,
                           float* Y, Isa isa);
// y += rows idx[k0:k1] of a 1x16-block-sparse wt (see block_sparse_down).
void block_rows(const float* a, const int32_t* idx, int64_t k0, int64_t k1,
                const int64_t* row_ptr, const int32_t* block_col, const float* vals, float* y,
                Isa isa);
// The same sum for a wt with row masks (D <= 1024; bit c of masks[i]: row i keeps block c),
// 16 rows streamed side by side (block_sparse_down's interleave strategy). SIMD paths only.
void block_rows_masked(const float* a, const int32_t* idx, int64_t k0, int64_t k1,
                       const int64_t* row_ptr, const uint64_t* masks, const float* vals,
                       float* y, Isa isa);

}  // namespace actsparse
