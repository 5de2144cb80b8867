// The AVX2 + FMA twins of the sparse FFN kernels (sparse_ffn_avx2.cpp), for the x86 CPUs
// without AVX-512: most laptops (Intel client cores since 2021, AMD before Zen 4). Each
// forms its sums as its AVX-512 sibling does, eight lanes at a time; sparse_ffn.cpp
// dispatches to them at run time.
#pragma once

#include <cstdint>

#include "kernel_core.h"

#if ACTSPARSE_X86
namespace actsparse::avx2 {

int64_t active(const float* a, int64_t n, int32_t* idx);
void down_cols(const float* a, const int32_t* idx, int64_t nnz, const float* wt, int64_t D,
               int64_t d0, int64_t d1, float* y);
void down_rows(const float* a, const int32_t* idx, int64_t nnz, const float* wt, int64_t D,
               int64_t d0, int64_t d1, float* y);
void down_rows_batch(const float* A, int64_t n, int64_t F, const int32_t* idx, int64_t nnz,
                     const float* wt, int64_t D, int64_t d0, int64_t d1, float* Y);
void block_rows(const float* a, const int32_t* idx, int64_t k0, int64_t k1,
                const int64_t* row_ptr, const int32_t* block_col, const float* vals, float* y);
void block_groups(const float* a, const int32_t* idx, int64_t k0, int64_t k1,
                  const int64_t* row_ptr, const uint64_t* masks, const float* vals, int64_t nb,
                  float* y);
void block_interleave(const BlockRow* r, int64_t n, float* y);
float dot(const float* w, const float* x, int64_t D);
// The read ceiling of down_rows (see read_rows in sparse_ffn.cpp).
float read_rows(const int32_t* idx, int64_t nnz, const float* wt, int64_t D, int64_t d0,
                int64_t d1);
void dots(const float* w, const float* X, int64_t n, int64_t D, float* out);
void gemv(const float* W, const int32_t* rows, const float* x, int64_t O, int64_t D, float* y);
void weighted_rows(const float* w, const float* V, int64_t n, int64_t stride, int64_t C,
                   float* out);

}  // namespace actsparse::avx2
#endif
