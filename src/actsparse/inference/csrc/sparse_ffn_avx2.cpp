// The AVX2 + FMA kernels (see sparse_ffn_avx2.h). Each follows its AVX-512 sibling in
// sparse_ffn.cpp, whose comments give the measurements behind the design; what differs:
// registers hold 8 floats (a 16-float weight block is two), there are 16 registers, not
// 32, and AVX2 has neither compress nor mask registers, so the active list is compressed
// through a table of lane permutations and partial loads use vmaskmov (which, like the
// AVX-512 masked load, never touches the lanes it leaves off).

#include "sparse_ffn_avx2.h"

#if ACTSPARSE_X86
#include <immintrin.h>

#include <algorithm>

#define ACTSPARSE_AVX2 __attribute__((target("avx2,fma")))
#define ACTSPARSE_AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) inline

namespace actsparse::avx2 {
namespace {

constexpr int64_t kLanes = 8;        // floats per AVX2 register
constexpr int64_t kBlock = 16;       // floats per weight block (BlockSparse): two registers
constexpr int64_t kAhead = 4;        // the tiles kernel's prefetch distance, in active rows
constexpr int kGroup = 16;           // rows per pass over y (as on AVX-512)
constexpr int64_t kAheadRows = 16;   // rows whose first lines are prefetched ahead of the pass
constexpr int64_t kStartSteps = 4;   // steps of a row (two lines each) prefetched ahead
constexpr int64_t kBlockAhead = 16;  // block rows prefetched ahead
constexpr int kBlockGroup = 8;
constexpr int kInterleave = 16;

// For each 8-bit lane mask, the indices of its set lanes packed low, 4 bits each: the
// compress-store AVX2 lacks, as one table load and one lane permutation.
struct CompressTable {
  uint32_t v[256];
  constexpr CompressTable() : v() {
    for (uint32_t m = 0; m < 256; ++m) {
      uint32_t packed = 0, k = 0;
      for (uint32_t lane = 0; lane < 8; ++lane)
        if (m & (1u << lane)) packed |= lane << (4 * k++);
      v[m] = packed;
    }
  }
};
constexpr CompressTable kCompress{};

// Lanes [0, n) on, n in [0, 8]: the mask of a partial load or store.
ACTSPARSE_AVX2_INLINE __m256i lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// The sum of 8 lanes in one fixed order, so equal inputs give equal sums everywhere.
ACTSPARSE_AVX2_INLINE float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

ACTSPARSE_AVX2_INLINE __m256 fma_at(__m256 av, const float* w, const float* y) {
  return _mm256_fmadd_ps(av, _mm256_loadu_ps(w), _mm256_loadu_ps(y));
}

void prefetch_l2(const void* begin, const void* end) {
  for (const char* c = static_cast<const char*>(begin); c < end; c += 64)
    _mm_prefetch(c, _MM_HINT_T1);
}

void prefetch_rows_l2(const float* wt, const int32_t* idx, int64_t k0, int64_t k1, int64_t D,
                      int64_t d0, int64_t d1) {
  for (int64_t k = k0; k < k1; ++k) {
    const float* r = wt + static_cast<int64_t>(idx[k]) * D;
    prefetch_l2(r + d0, r + d1);
  }
}

// G active rows summed into columns [d0, d1) of y in one pass: as down_row_group on
// AVX-512, with four 8-float chains per step (two cache lines of every row). Unlike there,
// only the first lines of the rows kAheadRows on are prefetched (into L1), to start the
// hardware's streams early; the rest of each row the hardware prefetcher brings. On an AMD
// EPYC with AVX2 only (768x3072, 1 thread, s = 0.875 / 0.9, layers cycled, best of 3
// paired runs against torch.mv): whole rows into L2, as on AVX-512, 0.50 / 0.50 of ideal;
// no software prefetch 0.54 / 0.52; the first 8 lines into L1 0.62 / 0.61; groups of 8
// rows 0.57, of 32 0.42.
template <int G>
ACTSPARSE_AVX2 void down_row_group(const float* a, const int32_t* idx, int64_t k, int64_t nnz,
                                   const float* wt, int64_t D, int64_t d0, int64_t d1,
                                   float* y) {
  const float* row[G];
  const char* ahead[G];
  float av[G];
  group_rows(wt, idx, k, G, nnz, D, kAheadRows, true, row, ahead);
  for (int g = 0; g < G; ++g) av[g] = a[idx[k + g]];
  int64_t t = d0;
  for (; t + 4 * kLanes <= d1; t += 4 * kLanes) {
    if (t - d0 < kStartSteps * 4 * kLanes)
#pragma GCC unroll 16
      for (int g = 0; g < G; ++g)
        if (ahead[g]) {
          _mm_prefetch(ahead[g] + t * 4, _MM_HINT_T0);
          _mm_prefetch(ahead[g] + t * 4 + 64, _MM_HINT_T0);
        }
    __m256 acc[4];
    for (int j = 0; j < 4; ++j) acc[j] = _mm256_loadu_ps(y + t + j * kLanes);
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g) {
      const __m256 v = _mm256_broadcast_ss(&av[g]);
      for (int j = 0; j < 4; ++j)
        acc[j] = _mm256_fmadd_ps(v, _mm256_loadu_ps(row[g] + t + j * kLanes), acc[j]);
    }
    for (int j = 0; j < 4; ++j) _mm256_storeu_ps(y + t + j * kLanes, acc[j]);
  }
  for (; t < d1; t += kLanes) {  // then a register at a time, the last one partial
    const __m256i m = lanes(std::min<int64_t>(kLanes, d1 - t));
    __m256 acc = _mm256_maskload_ps(y + t, m);
    for (int g = 0; g < G; ++g)
      acc = _mm256_fmadd_ps(_mm256_set1_ps(av[g]), _mm256_maskload_ps(row[g] + t, m), acc);
    _mm256_maskstore_ps(y + t, m, acc);
  }
}

// acc + av * (the row's block half at p, or zeros where the row keeps no block in this
// column): a masked load, branch-free.
ACTSPARSE_AVX2_INLINE __m256 add_half(__m256 acc, __m256 av, const float* p, __m256i keep) {
  return _mm256_fmadd_ps(av, _mm256_maskload_ps(p, keep), acc);
}

template <int G>
ACTSPARSE_AVX2 void block_group(const float* a, const int32_t* idx, int64_t k, int64_t k1,
                                const int64_t* row_ptr, const uint64_t* masks,
                                const float* vals, int64_t nb, float* y) {
  const float* p[G];
  uint64_t m[G];
  float av[G];
  for (int g = 0; g < G; ++g) {
    const int64_t i = idx[k + g];
    p[g] = vals + row_ptr[i] * kBlock;
    m[g] = masks[i];
    av[g] = a[i];
  }
  for (int g = 0; g < G; ++g) {  // the rows kBlockAhead on, whole, into L2
    const int64_t f = k + g + kBlockAhead;
    if (f < k1) {
      const int64_t fi = idx[f];
      prefetch_l2(vals + row_ptr[fi] * kBlock, vals + row_ptr[fi + 1] * kBlock);
    }
  }
  // Two block columns (four registers) per step.
  int64_t c = 0;
  for (; c + 2 <= nb; c += 2) {
    __m256 acc[4];
    for (int j = 0; j < 4; ++j) acc[j] = _mm256_loadu_ps(y + c * kBlock + j * kLanes);
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g) {
      const __m256 v = _mm256_broadcast_ss(&av[g]);
      for (int j = 0; j < 2; ++j) {
        const uint32_t bit = static_cast<uint32_t>((m[g] >> (c + j)) & 1u);
        const __m256i keep = _mm256_set1_epi32(-static_cast<int32_t>(bit));
        acc[2 * j] = add_half(acc[2 * j], v, p[g], keep);
        acc[2 * j + 1] = add_half(acc[2 * j + 1], v, p[g] + kLanes, keep);
        p[g] += bit * kBlock;
      }
    }
    for (int j = 0; j < 4; ++j) _mm256_storeu_ps(y + c * kBlock + j * kLanes, acc[j]);
  }
  for (; c < nb; ++c) {
    __m256 lo = _mm256_loadu_ps(y + c * kBlock), hi = _mm256_loadu_ps(y + c * kBlock + kLanes);
    for (int g = 0; g < G; ++g) {
      const uint32_t bit = static_cast<uint32_t>((m[g] >> c) & 1u);
      const __m256i keep = _mm256_set1_epi32(-static_cast<int32_t>(bit));
      const __m256 v = _mm256_set1_ps(av[g]);
      lo = add_half(lo, v, p[g], keep);
      hi = add_half(hi, v, p[g] + kLanes, keep);
      p[g] += bit * kBlock;
    }
    _mm256_storeu_ps(y + c * kBlock, lo);
    _mm256_storeu_ps(y + c * kBlock + kLanes, hi);
  }
}

// y[c] += av * v for the row's next kept block, c its lowest mask bit, cleared.
ACTSPARSE_AVX2_INLINE void add_kept_block(float* y, uint64_t& m, const float* v, __m256 av) {
  float* yb = y + kBlock * __builtin_ctzll(m);
  m &= m - 1;
  _mm256_storeu_ps(yb, fma_at(av, v, yb));
  _mm256_storeu_ps(yb + kLanes, fma_at(av, v + kLanes, yb + kLanes));
}

template <int G>
ACTSPARSE_AVX2 void interleave(const BlockRow* r, int64_t n, float* y) {
  auto prefetch_row = [](const BlockRow& b) {
    prefetch_l2(b.v, b.v + __builtin_popcountll(b.m) * kBlock);
  };
  for (int64_t k = 0; k < std::min<int64_t>(G, n); ++k) prefetch_row(r[k]);
  int64_t k = 0;
  for (; k + G <= n; k += G) {
    uint64_t m[G];
    const float* v[G];
    float av[G];
    int shortest = 64;
    for (int g = 0; g < G; ++g) {
      m[g] = r[k + g].m;
      v[g] = r[k + g].v;
      av[g] = r[k + g].a;
      shortest = std::min(shortest, __builtin_popcountll(m[g]));
      if (k + G + g < n) prefetch_row(r[k + G + g]);
    }
    int j = 0;
    for (; j < shortest; ++j)
#pragma GCC unroll 16
      for (int g = 0; g < G; ++g)
        add_kept_block(y, m[g], v[g] + j * kBlock, _mm256_broadcast_ss(&av[g]));
    for (int g = 0; g < G; ++g)
      for (int jj = j; m[g]; ++jj)
        add_kept_block(y, m[g], v[g] + jj * kBlock, _mm256_set1_ps(av[g]));
  }
  for (; k < n; ++k) {
    uint64_t m = r[k].m;
    const __m256 av = _mm256_set1_ps(r[k].a);
    for (const float* v = r[k].v; m; v += kBlock) add_kept_block(y, m, v, av);
  }
}

// out[j] = w . X[j, :] for j < N, each formed exactly as dot() forms it (two accumulators
// stepping 16, a partial register into the first, one fixed reduction).
template <int N>
ACTSPARSE_AVX2 void dots_n(const float* w, const float* X, int64_t D, float* out) {
  __m256 s0[N], s1[N];
  for (int j = 0; j < N; ++j) s0[j] = s1[j] = _mm256_setzero_ps();
  int64_t d = 0;
  for (; d + 2 * kLanes <= D; d += 2 * kLanes) {
    const __m256 w0 = _mm256_loadu_ps(w + d), w1 = _mm256_loadu_ps(w + d + kLanes);
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) {
      s0[j] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(X + j * D + d), s0[j]);
      s1[j] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(X + j * D + d + kLanes), s1[j]);
    }
  }
  for (; d < D; d += kLanes) {
    const __m256i m = lanes(std::min<int64_t>(kLanes, D - d));
    const __m256 w0 = _mm256_maskload_ps(w + d, m);
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j)
      s0[j] = _mm256_fmadd_ps(w0, _mm256_maskload_ps(X + j * D + d, m), s0[j]);
  }
  for (int j = 0; j < N; ++j) out[j] = hsum(_mm256_add_ps(s0[j], s1[j]));
}

}  // namespace

ACTSPARSE_AVX2 int64_t active(const float* a, int64_t n, int32_t* idx) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
  const __m256i nibble = _mm256_set1_epi32(0xF);
  int64_t k = 0, i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    // NEQ_UQ: a NaN counts as active, so it propagates to y as it would densely.
    const int m = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(a + i), zero, _CMP_NEQ_UQ));
    const __m256i lane = _mm256_and_si256(
        _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(kCompress.v[m])), shifts), nibble);
    // All 8 lanes stored, the first popcount(m) of them kept: k <= i, so idx + k + 8 <= n.
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(idx + k),
                        _mm256_add_epi32(lane, _mm256_set1_epi32(static_cast<int>(i))));
    k += __builtin_popcount(static_cast<unsigned>(m));
  }
  for (; i < n; ++i) {
    idx[k] = static_cast<int32_t>(i);
    k += (a[i] != 0.0f);
  }
  return k;
}

ACTSPARSE_AVX2 void down_cols(const float* a, const int32_t* idx, int64_t nnz, const float* wt,
                              int64_t D, int64_t d0, int64_t d1, float* y) {
  constexpr int64_t kTile = 8 * kLanes;
  int64_t t = d0;
  for (; t + kTile <= d1; t += kTile) {
    __m256 acc[8];
    for (int j = 0; j < 8; ++j) acc[j] = _mm256_loadu_ps(y + t + j * kLanes);
    for (int64_t k = 0; k < nnz; ++k) {
      const float* row = wt + static_cast<int64_t>(idx[k]) * D + t;
      if (k + kAhead < nnz) {
        const char* next =
            reinterpret_cast<const char*>(wt + static_cast<int64_t>(idx[k + kAhead]) * D + t);
        for (int j = 0; j < 4; ++j) _mm_prefetch(next + 64 * j, _MM_HINT_T0);
      }
      const __m256 av = _mm256_set1_ps(a[idx[k]]);
      for (int j = 0; j < 8; ++j)
        acc[j] = _mm256_fmadd_ps(av, _mm256_loadu_ps(row + j * kLanes), acc[j]);
    }
    for (int j = 0; j < 8; ++j) _mm256_storeu_ps(y + t + j * kLanes, acc[j]);
  }
  for (; t < d1; t += kLanes) {
    const __m256i m = lanes(std::min<int64_t>(kLanes, d1 - t));
    __m256 acc = _mm256_maskload_ps(y + t, m);
    for (int64_t k = 0; k < nnz; ++k) {
      const float* row = wt + static_cast<int64_t>(idx[k]) * D + t;
      acc = _mm256_fmadd_ps(_mm256_set1_ps(a[idx[k]]), _mm256_maskload_ps(row, m), acc);
    }
    _mm256_maskstore_ps(y + t, m, acc);
  }
}

ACTSPARSE_AVX2 void down_rows(const float* a, const int32_t* idx, int64_t nnz, const float* wt,
                              int64_t D, int64_t d0, int64_t d1, float* y) {
  int64_t k = 0;
  for (; k + kGroup <= nnz; k += kGroup) down_row_group<kGroup>(a, idx, k, nnz, wt, D, d0, d1, y);
  if (k + 8 <= nnz) down_row_group<8>(a, idx, k, nnz, wt, D, d0, d1, y), k += 8;
  if (k + 4 <= nnz) down_row_group<4>(a, idx, k, nnz, wt, D, d0, d1, y), k += 4;
  for (; k < nnz; ++k) down_row_group<1>(a, idx, k, nnz, wt, D, d0, d1, y);
}

// down_rows' reads (its groups, its prefetches) with its multiplies and y's loads and
// stores taken out: the memory ceiling its fraction of ideal is judged against.
ACTSPARSE_AVX2 float read_rows(const int32_t* idx, int64_t nnz, const float* wt, int64_t D,
                               int64_t d0, int64_t d1) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  for (int64_t k = 0; k < nnz; k += kGroup) {
    const int G = static_cast<int>(std::min<int64_t>(kGroup, nnz - k));
    const float* row[kGroup];
    const char* ahead[kGroup];
    group_rows(wt, idx, k, G, nnz, D, kAheadRows, true, row, ahead);
    int64_t t = d0;
    for (; t + 4 * kLanes <= d1; t += 4 * kLanes) {
      if (t - d0 < kStartSteps * 4 * kLanes)
        for (int g = 0; g < G; ++g)
          if (ahead[g]) {
            _mm_prefetch(ahead[g] + t * 4, _MM_HINT_T0);
            _mm_prefetch(ahead[g] + t * 4 + 64, _MM_HINT_T0);
          }
      for (int g = 0; g < G; ++g)
        for (int j = 0; j < 4; ++j)
          acc[j] = _mm256_add_ps(acc[j], _mm256_loadu_ps(row[g] + t + j * kLanes));
    }
    for (; t < d1; t += kLanes) {  // a register at a time, the last one partial
      const __m256i m = lanes(std::min<int64_t>(kLanes, d1 - t));
      for (int g = 0; g < G; ++g) acc[0] = _mm256_add_ps(acc[0], _mm256_maskload_ps(row[g] + t, m));
    }
  }
  return hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
}

ACTSPARSE_AVX2 void down_rows_batch(const float* A, int64_t n, int64_t F, const int32_t* idx,
                                    int64_t nnz, const float* wt, int64_t D, int64_t d0,
                                    int64_t d1, float* Y) {
  const int64_t full = d0 + (d1 - d0) / kLanes * kLanes;
  const __m256i tail = lanes(d1 - full);
  prefetch_rows_l2(wt, idx, 0, std::min(kAheadRows, nnz), D, d0, d1);
  for (int64_t k = 0; k < nnz; ++k) {
    const int64_t i = idx[k];
    const float* row = wt + i * D;
    if (k + kAheadRows < nnz)
      prefetch_rows_l2(wt, idx, k + kAheadRows, k + kAheadRows + 1, D, d0, d1);
    for (int64_t j = 0; j < n; ++j) {
      const float aj = A[j * F + i];
      if (aj == 0.0f) continue;
      const __m256 av = _mm256_set1_ps(aj);
      float* y = Y + j * D;
      for (int64_t t = d0; t < full; t += kLanes) _mm256_storeu_ps(y + t, fma_at(av, row + t, y + t));
      if (full < d1)
        _mm256_maskstore_ps(y + full, tail,
                            _mm256_fmadd_ps(av, _mm256_maskload_ps(row + full, tail),
                                            _mm256_maskload_ps(y + full, tail)));
    }
  }
}

ACTSPARSE_AVX2 void block_rows(const float* a, const int32_t* idx, int64_t k0, int64_t k1,
                               const int64_t* row_ptr, const int32_t* block_col,
                               const float* vals, float* y) {
  for (int64_t k = k0; k < std::min(k0 + kBlockAhead, k1); ++k) {
    const int64_t i = idx[k];
    prefetch_l2(vals + row_ptr[i] * kBlock, vals + row_ptr[i + 1] * kBlock);
  }
  for (int64_t k = k0; k < k1; ++k) {
    const int64_t i = idx[k];
    if (k + kBlockAhead < k1) {
      const int64_t fi = idx[k + kBlockAhead];
      prefetch_l2(vals + row_ptr[fi] * kBlock, vals + row_ptr[fi + 1] * kBlock);
    }
    const __m256 av = _mm256_set1_ps(a[i]);
    for (int64_t p = row_ptr[i]; p < row_ptr[i + 1]; ++p) {
      float* yb = y + static_cast<int64_t>(block_col[p]) * kBlock;
      const float* v = vals + p * kBlock;
      const __m256 lo = fma_at(av, v, yb), hi = fma_at(av, v + kLanes, yb + kLanes);
      _mm256_storeu_ps(yb, lo);
      _mm256_storeu_ps(yb + kLanes, hi);
    }
  }
}

ACTSPARSE_AVX2 void block_groups(const float* a, const int32_t* idx, int64_t k0, int64_t k1,
                                 const int64_t* row_ptr, const uint64_t* masks,
                                 const float* vals, int64_t nb, float* y) {
  for (int64_t k = k0; k < std::min(k0 + kBlockAhead, k1); ++k) {
    const int64_t i = idx[k];
    prefetch_l2(vals + row_ptr[i] * kBlock, vals + row_ptr[i + 1] * kBlock);
  }
  int64_t k = k0;
  for (; k + kBlockGroup <= k1; k += kBlockGroup)
    block_group<kBlockGroup>(a, idx, k, k1, row_ptr, masks, vals, nb, y);
  for (; k < k1; ++k) block_group<1>(a, idx, k, k1, row_ptr, masks, vals, nb, y);
}

void block_interleave(const BlockRow* r, int64_t n, float* y) {
  interleave<kInterleave>(r, n, y);
}

ACTSPARSE_AVX2 float dot(const float* w, const float* x, int64_t D) {
  float out;
  dots_n<1>(w, x, D, &out);
  return out;
}

void dots(const float* w, const float* X, int64_t n, int64_t D, float* out) {
  for (int64_t j = 0; j < n; j += 8) {
    const float* Xj = X + j * D;
    float* o = out + j;
    switch (std::min<int64_t>(8, n - j)) {
      case 1: dots_n<1>(w, Xj, D, o); break;
      case 2: dots_n<2>(w, Xj, D, o); break;
      case 3: dots_n<3>(w, Xj, D, o); break;
      case 4: dots_n<4>(w, Xj, D, o); break;
      case 5: dots_n<5>(w, Xj, D, o); break;
      case 6: dots_n<6>(w, Xj, D, o); break;
      case 7: dots_n<7>(w, Xj, D, o); break;
      default: dots_n<8>(w, Xj, D, o); break;
    }
  }
}

// Four rows per pass sharing each load of x, each sum formed as dot() forms it.
ACTSPARSE_AVX2 void gemv(const float* W, const int32_t* rows, const float* x, int64_t O,
                         int64_t D, float* y) {
  auto row = [&](int64_t o) { return W + (rows ? static_cast<int64_t>(rows[o]) : o) * D; };
  int64_t o = 0;
  for (; o + 4 <= O; o += 4) {
    const float* w[4] = {row(o), row(o + 1), row(o + 2), row(o + 3)};
    __m256 s0[4], s1[4];
    for (int r = 0; r < 4; ++r) s0[r] = s1[r] = _mm256_setzero_ps();
    int64_t d = 0;
    for (; d + 2 * kLanes <= D; d += 2 * kLanes) {
      const __m256 x0 = _mm256_loadu_ps(x + d), x1 = _mm256_loadu_ps(x + d + kLanes);
      for (int r = 0; r < 4; ++r) {
        s0[r] = _mm256_fmadd_ps(_mm256_loadu_ps(w[r] + d), x0, s0[r]);
        s1[r] = _mm256_fmadd_ps(_mm256_loadu_ps(w[r] + d + kLanes), x1, s1[r]);
      }
    }
    for (; d < D; d += kLanes) {
      const __m256i m = lanes(std::min<int64_t>(kLanes, D - d));
      const __m256 x0 = _mm256_maskload_ps(x + d, m);
      for (int r = 0; r < 4; ++r)
        s0[r] = _mm256_fmadd_ps(_mm256_maskload_ps(w[r] + d, m), x0, s0[r]);
    }
    for (int r = 0; r < 4; ++r) y[o + r] = hsum(_mm256_add_ps(s0[r], s1[r]));
  }
  for (; o < O; ++o) y[o] = dot(row(o), x, D);
}

ACTSPARSE_AVX2 void weighted_rows(const float* w, const float* V, int64_t n, int64_t stride,
                                  int64_t C, float* out) {
  for (int64_t c0 = 0; c0 < C; c0 += 4 * kLanes) {
    __m256i m[4];
    for (int j = 0; j < 4; ++j) m[j] = lanes(std::clamp<int64_t>(C - c0 - kLanes * j, 0, kLanes));
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    for (int64_t s = 0; s < n; ++s) {
      const __m256 ws = _mm256_set1_ps(w[s]);
      const float* v = V + s * stride + c0;
      for (int j = 0; j < 4; ++j)
        acc[j] = _mm256_fmadd_ps(ws, _mm256_maskload_ps(v + kLanes * j, m[j]), acc[j]);
    }
    for (int j = 0; j < 4; ++j) _mm256_maskstore_ps(out + c0 + kLanes * j, m[j], acc[j]);
  }
}

}  // namespace actsparse::avx2
#endif  // ACTSPARSE_X86
