// Sparse FFN kernels for batch-1 (and small-batch) inference on the CPU, fp32.
//
// The down projection y = W_down a with a mostly-zero a is a column-skipping GEMV: W_down
// is stored transposed, row-major [F, D], so each active neuron i contributes one
// contiguous row: y += a_i * Wt[i, :]. The active list is extracted inside the kernel
// (AVX-512 compress-store), never through torch's nonzero() + index_select copies.
//
// Every kernel has an AVX-512 path, an AVX2 + FMA path (sparse_ffn_avx2.cpp) and a portable
// path, chosen at run time per call (function-level target attributes, so the library
// builds and runs on any x86 CPU; elsewhere only the portable path is compiled).
// OpenMP splits work only when asked for more than one thread: a parallel region costs
// about a microsecond, more than a whole hidden-256 GEMV.

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <cstdint>
#include <vector>

#include "sparse_ffn.h"
#include "sparse_ffn_avx2.h"

#if ACTSPARSE_X86
#include <immintrin.h>
#endif

namespace {

constexpr int64_t kLanes = 16;       // floats per AVX-512 register
constexpr int64_t kTile = 8 * kLanes;  // D columns held in 8 accumulators per pass
constexpr int64_t kAhead = 4;  // prefetch distance in active rows (cold rows come from DRAM)

using actsparse::Isa;

void check_f32_contig(const torch::Tensor& t, const char* name) {
  TORCH_CHECK(t.defined(), name, " is undefined");
  TORCH_CHECK(t.device().is_cpu(), name, " must be a CPU tensor");
  TORCH_CHECK(t.scalar_type() == torch::kFloat32, name, " must be float32");
  TORCH_CHECK(t.is_contiguous(), name, " must be contiguous");
}

// An optional bias: empty, or contiguous float32 with exactly n entries (the kernels copy n).
void check_bias(const torch::Tensor& bias, int64_t n, const char* who) {
  if (!bias.defined() || bias.numel() == 0) return;
  check_f32_contig(bias, "bias");
  TORCH_CHECK(bias.numel() == n, who, ": bias has ", bias.numel(), " entries, needs ", n);
}

// ---------------------------------------------------------------- active-set extraction
int64_t active_portable(const float* a, int64_t n, int32_t* idx) {
  int64_t k = 0;
  for (int64_t i = 0; i < n; ++i) {
    idx[k] = static_cast<int32_t>(i);
    k += (a[i] != 0.0f);
  }
  return k;
}

#if ACTSPARSE_X86
__attribute__((target("avx512f"))) int64_t active_avx512(const float* a, int64_t n,
                                                         int32_t* idx) {
  const __m512 zero = _mm512_setzero_ps();
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  int64_t k = 0, i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    // NEQ_UQ: a NaN counts as active, so it propagates to y as it would densely.
    __mmask16 m = _mm512_cmp_ps_mask(_mm512_loadu_ps(a + i), zero, _CMP_NEQ_UQ);
    __m512i ids = _mm512_add_epi32(iota, _mm512_set1_epi32(static_cast<int32_t>(i)));
    // Compressed in a register, then a masked store of the first popcount lanes: the
    // compress-to-memory form is microcoded on Zen 4 and made this loop take ~5 us of a
    // ~60 us call at 3072 neurons; the register form takes ~1 us.
    const int c = __builtin_popcount(m);
    _mm512_mask_storeu_epi32(idx + k, static_cast<__mmask16>((1u << c) - 1u),
                             _mm512_maskz_compress_epi32(m, ids));
    k += c;
  }
  for (; i < n; ++i) {
    idx[k] = static_cast<int32_t>(i);
    k += (a[i] != 0.0f);
  }
  return k;
}
#endif


// Union over a batch: neuron i is active if any row has a nonzero there.
int64_t union_active(const float* A, int64_t B, int64_t n, int32_t* idx) {
  int64_t k = 0;
  for (int64_t i = 0; i < n; ++i) {
    bool any = false;
    for (int64_t b = 0; b < B; ++b) any |= (A[b * n + i] != 0.0f);
    idx[k] = static_cast<int32_t>(i);
    k += any;
  }
  return k;
}

// ------------------------------------------------- column-skipping GEMV (down projection)
void down_cols_portable(const float* a, const int32_t* idx, int64_t nnz, const float* wt,
                        int64_t D, int64_t d0, int64_t d1, float* y) {
  for (int64_t k = 0; k < nnz; ++k) {
    const float ai = a[idx[k]];
    const float* row = wt + static_cast<int64_t>(idx[k]) * D;
    for (int64_t d = d0; d < d1; ++d) y[d] += ai * row[d];
  }
}

#if ACTSPARSE_X86
// Columns [d0, d1) of y += sum_k a[idx_k] * Wt[idx_k, :], y already holding the bias.
__attribute__((target("avx512f"))) void down_cols_avx512(const float* a, const int32_t* idx,
                                                         int64_t nnz, const float* wt, int64_t D,
                                                         int64_t d0, int64_t d1, float* y) {
  int64_t t = d0;
  for (; t + kTile <= d1; t += kTile) {
    __m512 acc[8];
    for (int j = 0; j < 8; ++j) acc[j] = _mm512_loadu_ps(y + t + j * kLanes);
    for (int64_t k = 0; k < nnz; ++k) {
      const float* row = wt + static_cast<int64_t>(idx[k]) * D + t;
      if (k + kAhead < nnz) {  // active rows are scattered in memory: fetch a few ahead
        const char* next = reinterpret_cast<const char*>(wt + static_cast<int64_t>(idx[k + kAhead]) * D + t);
        for (int j = 0; j < 8; ++j) _mm_prefetch(next + 64 * j, _MM_HINT_T0);
      }
      const __m512 av = _mm512_set1_ps(a[idx[k]]);
      for (int j = 0; j < 8; ++j)
        acc[j] = _mm512_fmadd_ps(av, _mm512_loadu_ps(row + j * kLanes), acc[j]);
    }
    for (int j = 0; j < 8; ++j) _mm512_storeu_ps(y + t + j * kLanes, acc[j]);
  }
  for (; t < d1; t += kLanes) {  // the tail: one register at a time, masked past d1
    const int64_t left = std::min<int64_t>(kLanes, d1 - t);
    const __mmask16 m = static_cast<__mmask16>((1u << left) - 1u);
    __m512 acc = _mm512_maskz_loadu_ps(m, y + t);
    for (int64_t k = 0; k < nnz; ++k) {
      const float* row = wt + static_cast<int64_t>(idx[k]) * D + t;
      acc = _mm512_fmadd_ps(_mm512_set1_ps(a[idx[k]]), _mm512_maskz_loadu_ps(m, row), acc);
    }
    _mm512_mask_storeu_ps(y + t, m, acc);
  }
}

// Prefetch [begin, end) into L2, a cache line at a time.
void prefetch_l2(const void* begin, const void* end) {
  for (const char* c = static_cast<const char*>(begin); c < end; c += 64)
    _mm_prefetch(c, _MM_HINT_T1);
}

// Columns [d0, d1) of active rows idx[k0:k1) of wt [F, D] into L2.
void prefetch_rows_l2(const float* wt, const int32_t* idx, int64_t k0, int64_t k1, int64_t D,
                      int64_t d0, int64_t d1) {
  for (int64_t k = k0; k < k1; ++k) {
    const float* r = wt + static_cast<int64_t>(idx[k]) * D;
    prefetch_l2(r + d0, r + d1);
  }
}

// Row streaming, kGroup rows per pass: y (in L1) is read and written once per group
// instead of once per row, and every row is read whole and contiguously. The rows
// kAheadRows further on are prefetched whole into L2 during the pass: active rows are
// scattered, so the hardware prefetcher cannot guess them, and prefetching into L1
// instead fills its few miss buffers and stalls the loads the pass itself needs.
// Measured at 768x3072, 1 thread, layers cycled: 0.53 of ideal with one row per pass and
// the next row's first lines in L1, 0.75 with whole rows in L2, 0.8-0.9 with groups of 8,
// 0.9-0.97 with groups of 16 and the next group prefetched.
constexpr int kGroup = 16;
constexpr int64_t kAheadRows = 16;

template <int G>
__attribute__((target("avx512f"))) void down_row_group(const float* a, const int32_t* idx,
                                                       int64_t k, int64_t nnz, const float* wt,
                                                       int64_t D, int64_t d0, int64_t d1,
                                                       float* y, bool prefetch) {
  const float* row[G];
  const char* ahead[G];
  __m512 av[G];
  actsparse::group_rows(wt, idx, k, G, nnz, D, kAheadRows, prefetch, row, ahead);
  for (int g = 0; g < G; ++g) av[g] = _mm512_set1_ps(a[idx[k + g]]);
  int64_t t = d0;
  // Four cache lines of every row per step: four independent chains of G fused
  // multiply-adds, so their latency overlaps (one chain would wait 4 cycles per add).
  for (; t + 4 * kLanes <= d1; t += 4 * kLanes) {
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g)
      if (ahead[g])
        for (int j = 0; j < 4; ++j) _mm_prefetch(ahead[g] + (t + j * kLanes) * 4, _MM_HINT_T1);
    __m512 acc[4];
    for (int j = 0; j < 4; ++j) acc[j] = _mm512_loadu_ps(y + t + j * kLanes);
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g)
      for (int j = 0; j < 4; ++j)
        acc[j] = _mm512_fmadd_ps(av[g], _mm512_loadu_ps(row[g] + t + j * kLanes), acc[j]);
    for (int j = 0; j < 4; ++j) _mm512_storeu_ps(y + t + j * kLanes, acc[j]);
  }
  for (; t + kLanes <= d1; t += kLanes) {  // then one cache line at a time
    for (int g = 0; g < G; ++g)
      if (ahead[g]) _mm_prefetch(ahead[g] + t * 4, _MM_HINT_T1);
    __m512 acc = _mm512_loadu_ps(y + t);
    for (int g = 0; g < G; ++g) acc = _mm512_fmadd_ps(av[g], _mm512_loadu_ps(row[g] + t), acc);
    _mm512_storeu_ps(y + t, acc);
  }
  if (t < d1) {  // the tail, masked past d1
    const __mmask16 m = static_cast<__mmask16>((1u << (d1 - t)) - 1u);
    __m512 acc = _mm512_maskz_loadu_ps(m, y + t);
    for (int g = 0; g < G; ++g)
      acc = _mm512_fmadd_ps(av[g], _mm512_maskz_loadu_ps(m, row[g] + t), acc);
    _mm512_mask_storeu_ps(y + t, m, acc);
  }
}

// Columns [d0, d1) of y += sum_k a[idx_k] * Wt[idx_k, :], streaming whole rows.
__attribute__((target("avx512f"))) void down_rows_avx512(const float* a, const int32_t* idx,
                                                         int64_t nnz, const float* wt, int64_t D,
                                                         int64_t d0, int64_t d1, float* y) {
  const bool pf = actsparse::row_prefetch();
  if (pf) prefetch_rows_l2(wt, idx, 0, std::min(kAheadRows, nnz), D, d0, d1);  // before first use
  int64_t k = 0;
  if (pf)  // without the prefetches, 8 rows a pass streamed faster (see row_prefetch)
    for (; k + kGroup <= nnz; k += kGroup) down_row_group<kGroup>(a, idx, k, nnz, wt, D, d0, d1, y, pf);
  for (; k + 8 <= nnz; k += 8) down_row_group<8>(a, idx, k, nnz, wt, D, d0, d1, y, pf);
  if (k + 4 <= nnz) down_row_group<4>(a, idx, k, nnz, wt, D, d0, d1, y, pf), k += 4;
  for (; k < nnz; ++k) down_row_group<1>(a, idx, k, nnz, wt, D, d0, d1, y, pf);
}

// Y[j, :] += A[j, i] * Wt[i, :] for every union row i and every j with A[j, i] != 0: each
// weight row is read from memory once for all n rows of A. Per row of Y the products are
// added in the same order, one fused multiply-add each, as down_rows_avx512 adds them, so
// a row's result does not depend on which other rows share the call.
__attribute__((target("avx512f"))) void down_rows_batch_avx512(const float* A, int64_t n,
                                                               int64_t F, const int32_t* idx,
                                                               int64_t nnz, const float* wt,
                                                               int64_t D, int64_t d0, int64_t d1,
                                                               float* Y) {
  const int64_t full = d0 + (d1 - d0) / kLanes * kLanes;
  const __mmask16 tail = static_cast<__mmask16>((1u << (d1 - full)) - 1u);
  prefetch_rows_l2(wt, idx, 0, std::min(kAheadRows, nnz), D, d0, d1);
  for (int64_t k = 0; k < nnz; ++k) {
    const int64_t i = idx[k];
    const float* row = wt + i * D;
    if (k + kAheadRows < nnz) prefetch_rows_l2(wt, idx, k + kAheadRows, k + kAheadRows + 1, D, d0, d1);
    for (int64_t j = 0; j < n; ++j) {
      const float aj = A[j * F + i];
      if (aj == 0.0f) continue;
      const __m512 av = _mm512_set1_ps(aj);
      float* y = Y + j * D;
      for (int64_t t = d0; t < full; t += kLanes)
        _mm512_storeu_ps(y + t, _mm512_fmadd_ps(av, _mm512_loadu_ps(row + t), _mm512_loadu_ps(y + t)));
      if (tail)
        _mm512_mask_storeu_ps(y + full, tail,
                              _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(tail, row + full),
                                              _mm512_maskz_loadu_ps(tail, y + full)));
    }
  }
}

// The memory ceiling of down_rows_avx512 (see read_rows): its reads, in its groups and
// with its prefetches, with its multiplies and y's loads and stores taken out.
__attribute__((target("avx512f"))) float read_rows_avx512(const int32_t* idx, int64_t nnz,
                                                          const float* wt, int64_t D,
                                                          int64_t d0, int64_t d1) {
  const bool pf = actsparse::row_prefetch();
  if (pf) prefetch_rows_l2(wt, idx, 0, std::min(kAheadRows, nnz), D, d0, d1);
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
  const int64_t group = pf ? kGroup : 8;  // as down_rows_avx512 groups them
  for (int64_t k = 0; k < nnz; k += group) {
    const int G = static_cast<int>(std::min<int64_t>(group, nnz - k));
    const float* row[kGroup];
    const char* ahead[kGroup];
    actsparse::group_rows(wt, idx, k, G, nnz, D, kAheadRows, pf, row, ahead);
    int64_t t = d0;
    for (; t + 4 * kLanes <= d1; t += 4 * kLanes) {
      for (int g = 0; g < G; ++g)
        if (ahead[g])
          for (int j = 0; j < 4; ++j) _mm_prefetch(ahead[g] + (t + j * kLanes) * 4, _MM_HINT_T1);
      for (int g = 0; g < G; ++g)
        for (int j = 0; j < 4; ++j)
          acc[j] = _mm512_add_ps(acc[j], _mm512_loadu_ps(row[g] + t + j * kLanes));
    }
    for (; t < d1; t += kLanes) {  // a register at a time, the last one masked past d1
      const int64_t n = std::min<int64_t>(kLanes, d1 - t);
      const __mmask16 m = static_cast<__mmask16>((1u << n) - 1u);
      for (int g = 0; g < G; ++g)
        acc[0] = _mm512_add_ps(acc[0], _mm512_maskz_loadu_ps(m, row[g] + t));
    }
  }
  return _mm512_reduce_add_ps(
      _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

#endif  // ACTSPARSE_X86

// The portable read ceiling: the same rows read one after another, eight partial sums so
// the adds do not serialise the loads.
float read_rows_portable(const int32_t* idx, int64_t nnz, const float* wt, int64_t D,
                         int64_t d0, int64_t d1) {
  float s[8] = {};
  for (int64_t k = 0; k < nnz; ++k) {
    const float* row = wt + static_cast<int64_t>(idx[k]) * D;
    for (int64_t d = d0; d < d1; ++d) s[d & 7] += row[d];
  }
  float total = 0.0f;
  for (float v : s) total += v;
  return total;
}

// The portable twin of down_rows_batch_avx512: the same sums in the same order.
void down_rows_batch_portable(const float* A, int64_t n, int64_t F, const int32_t* idx,
                              int64_t nnz, const float* wt, int64_t D, int64_t d0, int64_t d1,
                              float* Y) {
  for (int64_t k = 0; k < nnz; ++k) {
    const int64_t i = idx[k];
    const float* row = wt + i * D;
    for (int64_t j = 0; j < n; ++j) {
      const float aj = A[j * F + i];
      if (aj == 0.0f) continue;
      float* y = Y + j * D;
      for (int64_t d = d0; d < d1; ++d) y[d] += aj * row[d];  // as down_cols_portable
    }
  }
}

// A per-thread index buffer of at least n entries, reused across calls: allocating and
// zeroing a fresh one cost a sizeable part of a ~50 us call.
int32_t* index_buffer(int64_t n) {
  thread_local std::vector<int32_t> buf;
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(n);
  return buf.data();
}

void init_bias(float* y, const torch::Tensor& bias, int64_t D) {
  if (bias.defined() && bias.numel() > 0) {
    std::copy(bias.data_ptr<float>(), bias.data_ptr<float>() + D, y);
  } else {
    std::fill(y, y + D, 0.0f);
  }
}

// Split [0, D) into per-thread ranges on tile boundaries.
template <typename F>
void over_column_ranges(int64_t D, int threads, F&& body) {
  const int64_t tiles = (D + kTile - 1) / kTile;
  const int nt = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, tiles)));
  if (nt == 1) {
    body(0, D);
    return;
  }
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int t = 0; t < nt; ++t) {
    const int64_t d0 = std::min(D, (tiles * t / nt) * kTile);
    const int64_t d1 = std::min(D, (tiles * (t + 1) / nt) * kTile);
    if (d0 < d1) body(d0, d1);
  }
}

}  // namespace

// y[D] = Wt^T a + bias for a [F] mostly zero, Wt [F, D] (W_down transposed).
torch::Tensor sparse_down(torch::Tensor a, torch::Tensor wt, torch::Tensor bias, int64_t threads,
                          int64_t isa_code, int64_t strategy) {
  check_f32_contig(a, "a");
  check_f32_contig(wt, "wt");
  TORCH_CHECK(wt.dim() == 2 && a.dim() == 1 && a.size(0) == wt.size(0),
              "sparse_down: a must be [F] and wt [F, D]");
  const int64_t F = wt.size(0), D = wt.size(1);
  check_bias(bias, D, "sparse_down");
  auto y = torch::empty({D}, a.options());
  const Isa isa = actsparse::checked_isa(isa_code);
  TORCH_CHECK(strategy >= 0 && strategy <= 2, "sparse_down: unknown strategy ", strategy);
  int32_t* idx = index_buffer(F);
  const int64_t nnz = actsparse::extract_active(a.data_ptr<float>(), F, idx, isa);
  float* yp = y.data_ptr<float>();
  init_bias(yp, bias, D);
  const float *ap = a.data_ptr<float>(), *wp = wt.data_ptr<float>();
  over_column_ranges(D, static_cast<int>(threads), [&](int64_t d0, int64_t d1) {
    // strategy 0 (auto) is rows: grouped row streaming with L2 prefetch beat register
    // tiles at both benchmark shapes and every sparsity on this machine kind.
    const bool rows = strategy != 1;
#if ACTSPARSE_X86
    if (isa == Isa::kAvx512 && rows) return down_rows_avx512(ap, idx, nnz, wp, D, d0, d1, yp);
    if (isa == Isa::kAvx512) return down_cols_avx512(ap, idx, nnz, wp, D, d0, d1, yp);
    if (isa == Isa::kAvx2 && rows) return actsparse::avx2::down_rows(ap, idx, nnz, wp, D, d0, d1, yp);
    if (isa == Isa::kAvx2) return actsparse::avx2::down_cols(ap, idx, nnz, wp, D, d0, d1, yp);
#endif
    down_cols_portable(ap, idx, nnz, wp, D, d0, d1, yp);
  });
  return y;
}

// What any kernel that skips rows can reach on this CPU: the active rows of wt read as
// sparse_down's row streaming reads them (same groups, same prefetches) and summed into
// registers, nothing multiplied and nothing written. Scattered rows stream slower than one
// dense matrix, so a row-skipping kernel's fraction of ideal is bounded by this read's;
// kernel_benchmark times it beside the kernels (read_ceiling_down) so every CPU's table
// shows its own bound. Returns the sum of the rows' entries (the work cannot be elided).
double read_rows(torch::Tensor a, torch::Tensor wt, int64_t threads, int64_t isa_code) {
  check_f32_contig(a, "a");
  check_f32_contig(wt, "wt");
  TORCH_CHECK(wt.dim() == 2 && a.dim() == 1 && a.size(0) == wt.size(0),
              "read_rows: a must be [F] and wt [F, D]");
  TORCH_CHECK(threads >= 1, "read_rows: threads must be >= 1, got ", threads);
  const int64_t F = wt.size(0), D = wt.size(1);
  const Isa isa = actsparse::checked_isa(isa_code);
  int32_t* idx = index_buffer(F);
  const int64_t nnz = actsparse::extract_active(a.data_ptr<float>(), F, idx, isa);
  const float* wp = wt.data_ptr<float>();
  std::vector<float> part(static_cast<size_t>(threads), 0.0f);
  over_column_ranges(D, static_cast<int>(threads), [&](int64_t d0, int64_t d1) {
    float& s = part[static_cast<size_t>(omp_get_thread_num())];
#if ACTSPARSE_X86
    if (isa == Isa::kAvx512) return void(s = read_rows_avx512(idx, nnz, wp, D, d0, d1));
    if (isa == Isa::kAvx2) return void(s = actsparse::avx2::read_rows(idx, nnz, wp, D, d0, d1));
#endif
    s = read_rows_portable(idx, nnz, wp, D, d0, d1);
  });
  double total = 0.0;
  for (float v : part) total += v;
  return total;
}

// Y[B, D] for A [B, F] (B <= 8): every weight row of the union of active neurons is read
// once and applied to every batch row, so batching pays only for the union.
torch::Tensor sparse_down_batch(torch::Tensor A, torch::Tensor wt, torch::Tensor bias,
                                int64_t threads, int64_t isa_code) {
  check_f32_contig(A, "A");
  check_f32_contig(wt, "wt");
  TORCH_CHECK(A.dim() == 2 && wt.dim() == 2 && A.size(1) == wt.size(0),
              "sparse_down_batch: A must be [B, F] and wt [F, D]");
  const int64_t B = A.size(0), F = wt.size(0), D = wt.size(1);
  TORCH_CHECK(B >= 1 && B <= 8, "sparse_down_batch: batch must be 1..8, got ", B);
  check_bias(bias, D, "sparse_down_batch");
  const Isa isa = actsparse::checked_isa(isa_code);
  auto Y = torch::empty({B, D}, A.options());
  float* Yp = Y.data_ptr<float>();
  for (int64_t b = 0; b < B; ++b) init_bias(Yp + b * D, bias, D);
  int32_t* idx = index_buffer(F);
  const float *Ap = A.data_ptr<float>(), *wp = wt.data_ptr<float>();
  const int64_t nnz = union_active(Ap, B, F, idx);
  over_column_ranges(D, static_cast<int>(threads), [&](int64_t d0, int64_t d1) {
    actsparse::down_rows_batch_range(Ap, B, F, idx, nnz, wp, D, d0, d1, Yp, isa);
  });
  return Y;
}

// ------------------------------------------------ block-sparse weights x sparse activations
// Wt [F, D] pruned in 1x16 blocks along D, packed per neuron row: row_ptr [F+1] (int64),
// block_col [nnzb] (int32, block index along D), values [nnzb, 16] (zero-padded past D).
namespace {
void block_rows_portable(const float* a, const int32_t* idx, int64_t k0, int64_t k1,
                         const int64_t* row_ptr, const int32_t* block_col, const float* vals,
                         float* y) {
  for (int64_t k = k0; k < k1; ++k) {
    const int64_t i = idx[k];
    const float ai = a[i];
    for (int64_t p = row_ptr[i]; p < row_ptr[i + 1]; ++p) {
      float* yb = y + static_cast<int64_t>(block_col[p]) * kLanes;
      const float* v = vals + p * kLanes;
      for (int l = 0; l < kLanes; ++l) yb[l] += ai * v[l];
    }
  }
}

#if ACTSPARSE_X86
constexpr int64_t kBlockAhead = 16;
constexpr int kBlockGroup = 8;

__attribute__((target("avx512f"))) void block_rows_avx512(const float* a, const int32_t* idx,
                                                          int64_t k0, int64_t k1,
                                                          const int64_t* row_ptr,
                                                          const int32_t* block_col,
                                                          const float* vals, float* y) {
  // A block is one cache line: the packed row kBlockAhead on is prefetched whole into L2,
  // as the dense-row kernel does (and for the same reasons), one line beside each block
  // of the current row rather than in a burst that would overflow the miss buffers.
  // Finding a row's blocks needs its row_ptr entry, itself a cache miss, so those are
  // fetched twice as far ahead.
  auto line = [](const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T1); };
  auto fetch_ptr = [&](int64_t k) {
    if (k < k1) _mm_prefetch(reinterpret_cast<const char*>(row_ptr + idx[k]), _MM_HINT_T1);
  };
  auto fetch_row = [&](int64_t i) {
    prefetch_l2(vals + row_ptr[i] * kLanes, vals + row_ptr[i + 1] * kLanes);
    line(block_col + row_ptr[i]);
  };
  for (int64_t k = k0; k < std::min(k0 + 2 * kBlockAhead, k1); ++k) fetch_ptr(k);
  for (int64_t k = k0; k < std::min(k0 + kBlockAhead, k1); ++k) fetch_row(idx[k]);
  for (int64_t k = k0; k < k1; ++k) {
    const int64_t i = idx[k];
    fetch_ptr(k + 2 * kBlockAhead);
    const int64_t start = row_ptr[i], end = row_ptr[i + 1];
    int64_t f = 0, f_end = 0;  // the future row's blocks, [f, f_end)
    if (k + kBlockAhead < k1) {
      const int64_t fi = idx[k + kBlockAhead];
      f = row_ptr[fi], f_end = row_ptr[fi + 1];
      line(block_col + f);
    }
    const __m512 av = _mm512_set1_ps(a[i]);
    int64_t p = start;
    // Four blocks at a time, all loads before any store: a row's blocks are distinct
    // columns, which the compiler cannot know, so it would otherwise serialise each
    // block's load of y behind the previous block's store.
    for (; p + 4 <= end; p += 4) {
      for (int j = 0; j < 4 && f < f_end; ++j, ++f) line(vals + f * kLanes);
      float* yb[4];
      __m512 acc[4];
      for (int j = 0; j < 4; ++j) {
        yb[j] = y + static_cast<int64_t>(block_col[p + j]) * kLanes;
        acc[j] = _mm512_fmadd_ps(av, _mm512_loadu_ps(vals + (p + j) * kLanes),
                                 _mm512_loadu_ps(yb[j]));
      }
      for (int j = 0; j < 4; ++j) _mm512_storeu_ps(yb[j], acc[j]);
    }
    for (; p < end; ++p) {
      float* yb = y + static_cast<int64_t>(block_col[p]) * kLanes;
      _mm512_storeu_ps(yb, _mm512_fmadd_ps(av, _mm512_loadu_ps(vals + p * kLanes),
                                           _mm512_loadu_ps(yb)));
    }
    for (; f < f_end; ++f) line(vals + f * kLanes);  // a future row longer than this one
  }
}

// acc + av * (the row's block in column c, or zeros where the row keeps none there), and
// p stepped past a kept block: branch-free, as the kept/skipped pattern is random.
__attribute__((target("avx512f"), always_inline)) inline __m512 add_block(__m512 acc,
                                                                          __m512 av,
                                                                          const float*& p,
                                                                          uint64_t m, int64_t c) {
  const uint32_t bit = static_cast<uint32_t>((m >> c) & 1u);
  acc = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(static_cast<__mmask16>(0u - bit), p), acc);
  p += bit * kLanes;
  return acc;
}

// Rows in groups of G per pass over y, when a row's kept blocks fit one 64-bit mask (D <=
// 1024): bit c of masks[i] says row i keeps block c, and its blocks lie in order from
// vals[row_ptr[i]]. For each block column every row of the group adds its block or, where
// it has none, a masked-off load of zeros, branch-free, and steps its pointer by the bit.
// y is then read and written once per group, not once per kept block, and the group's rows
// stream in parallel; the next group is prefetched into L2 as in the dense-row kernel.
template <int G>
__attribute__((target("avx512f"))) void block_group_avx512(const float* a, const int32_t* idx,
                                                           int64_t k, int64_t k1,
                                                           const int64_t* row_ptr,
                                                           const uint64_t* masks,
                                                           const float* vals, int64_t nb,
                                                           float* y) {
  const float* p[G];
  uint64_t m[G];
  __m512 av[G];
  for (int g = 0; g < G; ++g) {
    const int64_t i = idx[k + g];
    p[g] = vals + row_ptr[i] * kLanes;
    m[g] = masks[i];
    av[g] = _mm512_set1_ps(a[i]);
  }
  // The rows kBlockAhead on, prefetched into L2 beside the pass: line c of each with
  // block column c.
  const char* ahead[G];
  int64_t ahead_lines[G];
  for (int g = 0; g < G; ++g) {
    const int64_t f = k + g + kBlockAhead;
    ahead[g] = nullptr;
    ahead_lines[g] = 0;
    if (f < k1) {
      const int64_t fi = idx[f];
      ahead[g] = reinterpret_cast<const char*>(vals + row_ptr[fi] * kLanes);
      ahead_lines[g] = row_ptr[fi + 1] - row_ptr[fi];
      _mm_prefetch(reinterpret_cast<const char*>(masks + fi), _MM_HINT_T0);
    }
  }
  auto prefetch_cols = [&](int64_t c, int64_t n) {
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g)
      for (int64_t j = c; j < std::min(c + n, ahead_lines[g]); ++j)
        _mm_prefetch(ahead[g] + j * 64, _MM_HINT_T1);
  };
  // Four block columns per step: four independent chains of multiply-adds (one chain
  // would wait on each add's latency); a row's pointer steps past each block it keeps.
  int64_t c = 0;
  for (; c + 4 <= nb; c += 4) {
    prefetch_cols(c, 4);
    __m512 acc[4];
    for (int j = 0; j < 4; ++j) acc[j] = _mm512_loadu_ps(y + (c + j) * kLanes);
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g)
      for (int j = 0; j < 4; ++j) acc[j] = add_block(acc[j], av[g], p[g], m[g], c + j);
    for (int j = 0; j < 4; ++j) _mm512_storeu_ps(y + (c + j) * kLanes, acc[j]);
  }
  for (; c < nb; ++c) {
    prefetch_cols(c, 1);
    __m512 acc = _mm512_loadu_ps(y + c * kLanes);
    for (int g = 0; g < G; ++g) acc = add_block(acc, av[g], p[g], m[g], c);
    _mm512_storeu_ps(y + c * kLanes, acc);
  }
}

__attribute__((target("avx512f"))) void block_groups_avx512(const float* a, const int32_t* idx,
                                                            int64_t k0, int64_t k1,
                                                            const int64_t* row_ptr,
                                                            const uint64_t* masks,
                                                            const float* vals, int64_t nb,
                                                            float* y) {
  for (int64_t k = k0; k < std::min(k0 + 2 * kBlockAhead, k1); ++k)
    _mm_prefetch(reinterpret_cast<const char*>(row_ptr + idx[k]), _MM_HINT_T0);
  for (int64_t k = k0; k < std::min(k0 + kBlockAhead, k1); ++k) {
    const int64_t i = idx[k];
    prefetch_l2(vals + row_ptr[i] * kLanes, vals + row_ptr[i + 1] * kLanes);
  }
  int64_t k = k0;
  for (; k + kBlockGroup <= k1; k += kBlockGroup) {
    for (int g = 0; g < kBlockGroup; ++g)
      if (k + 2 * kBlockAhead + g < k1)
        _mm_prefetch(reinterpret_cast<const char*>(row_ptr + idx[k + 2 * kBlockAhead + g]),
                     _MM_HINT_T0);
    block_group_avx512<kBlockGroup>(a, idx, k, k1, row_ptr, masks, vals, nb, y);
  }
  for (; k < k1; ++k) block_group_avx512<1>(a, idx, k, k1, row_ptr, masks, vals, nb, y);
}

#endif  // ACTSPARSE_X86

using actsparse::BlockRow;

// The rows' metadata in one pass of independent loads before any row is summed: each is
// likely a cache miss, and gathered this way they overlap instead of each stalling the
// prefetch of its row's blocks.
void gather_block_rows(const float* a, const int32_t* idx, int64_t k0, int64_t k1,
                       const int64_t* row_ptr, const uint64_t* masks, const float* vals,
                       BlockRow* out) {
  for (int64_t k = k0; k < k1; ++k) {
    const int64_t i = idx[k];
    out[k - k0] = {vals + row_ptr[i] * kLanes, masks[i], a[i]};
  }
}

#if ACTSPARSE_X86
// y[c] += av * v for the row's next kept block, c its lowest mask bit, cleared.
__attribute__((target("avx512f,bmi"), always_inline)) inline void add_kept_block(
    float* y, uint64_t& m, const float* v, __m512 av) {
  float* yb = y + kLanes * __builtin_ctzll(m);
  m &= m - 1;
  _mm512_storeu_ps(yb, _mm512_fmadd_ps(av, _mm512_loadu_ps(v), _mm512_loadu_ps(yb)));
}

// Rows in groups of G, interleaved: block j of every row of the group, then block j + 1.
// The group's rows then stream from memory side by side, as the dense-row kernel's do,
// rather than one after another, and block j of each row of the next group is
// prefetched into L2 beside them. Each kept block is added where its mask bit says, so no
// column index is read. At 768x3072, 50% blocks, 87.5% zeros, 1 thread, layers cycled
// (kernel_benchmark): 56-62 us against 75-82 us for one row at a time with its column
// indices. Ordering the rows by block count, groups of 32, two or four copies of y, and
// running the short rows' ends side by side under masks were tried and gained nothing.
template <int G>
__attribute__((target("avx512f,bmi,popcnt"))) void block_interleave_avx512(const BlockRow* r,
                                                                          int64_t n, float* y) {
  auto prefetch_row = [](const BlockRow& b) {
    prefetch_l2(b.v, b.v + __builtin_popcountll(b.m) * kLanes);
  };
  for (int64_t k = 0; k < std::min<int64_t>(G, n); ++k) prefetch_row(r[k]);
  int64_t k = 0;
  for (; k + G <= n; k += G) {
    uint64_t m[G];
    const float* v[G];
    __m512 av[G];
    const float* f[G];  // the next group's rows, prefetched a block at a time
    int fn[G];
    int shortest = 64;
    for (int g = 0; g < G; ++g) {
      m[g] = r[k + g].m;
      v[g] = r[k + g].v;
      av[g] = _mm512_set1_ps(r[k + g].a);
      shortest = std::min(shortest, __builtin_popcountll(m[g]));
      const bool next = k + G + g < n;
      f[g] = next ? r[k + G + g].v : nullptr;
      fn[g] = next ? __builtin_popcountll(r[k + G + g].m) : 0;
    }
    int j = 0;
    for (; j < shortest; ++j) {
#pragma GCC unroll 16
      for (int g = 0; g < G; ++g) {
        if (j < fn[g]) _mm_prefetch(reinterpret_cast<const char*>(f[g] + j * kLanes), _MM_HINT_T1);
        add_kept_block(y, m[g], v[g] + j * kLanes, av[g]);
      }
    }
    for (int g = 0; g < G; ++g) {  // the longer rows' last blocks, and their prefetches
      for (int jj = j; m[g]; ++jj) add_kept_block(y, m[g], v[g] + jj * kLanes, av[g]);
      for (int jj = j; jj < fn[g]; ++jj)
        _mm_prefetch(reinterpret_cast<const char*>(f[g] + jj * kLanes), _MM_HINT_T1);
    }
  }
  for (; k < n; ++k) {
    uint64_t m = r[k].m;
    const __m512 av = _mm512_set1_ps(r[k].a);
    for (const float* v = r[k].v; m; v += kLanes) add_kept_block(y, m, v, av);
  }
}

constexpr int kInterleave = 16;
#endif  // ACTSPARSE_X86
}  // namespace

torch::Tensor block_sparse_down(torch::Tensor a, torch::Tensor row_ptr, torch::Tensor block_col,
                                torch::Tensor vals, torch::Tensor masks, int64_t D,
                                torch::Tensor bias, int64_t threads, int64_t isa_code,
                                int64_t strategy) {
  check_f32_contig(a, "a");
  TORCH_CHECK(a.dim() == 1, "block_sparse_down: a must be [F]");
  const int64_t F = a.size(0);
  // O(1) here (a call must stay cheap); check_block_sparse checks every row once, where
  // the Python BlockSparse is made and where the decode engine takes one.
  actsparse::check_block_layout(row_ptr, block_col, vals, masks, F, D);
  const int64_t Dp = (D + kLanes - 1) / kLanes * kLanes;
  const int64_t nb = Dp / kLanes;
  check_bias(bias, D, "block_sparse_down");
  // With the block masks (D <= 1024): strategy 1 (group) sums a group of rows per pass
  // over y; 3 (interleave) and 0 (auto) stream a group of rows side by side, each block
  // added where its mask bit says. 2 (rows), and any strategy without masks: one row at a
  // time, each kept block added where its column index says. kernel_benchmark times all.
  TORCH_CHECK(strategy >= 0 && strategy <= 3, "unknown block strategy ", strategy);
  const bool grouped = masks.numel() > 0 && strategy == 1;
  const bool interleaved = masks.numel() > 0 && (strategy == 0 || strategy == 3);
  const Isa isa = actsparse::checked_isa(isa_code);
  int32_t* idx = index_buffer(F);
  const float* ap = a.data_ptr<float>();
  const int64_t nnz = actsparse::extract_active(ap, F, idx, isa);
  const int nt = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, nnz)));
  // Each thread sums its share of the active rows into a private y (whole blocks: Dp
  // columns), then one reduction; a single thread sums straight into the output.
  // (No padding columns, as at every model width we use: no zero fill and no narrowed view,
  // each a measurable part of a ~50 us call.)
  auto out = Dp == D ? torch::empty({D}, a.options()) : torch::zeros({Dp}, a.options());
  float* yp = out.data_ptr<float>();
  init_bias(yp, bias, D);
  std::vector<float> ys(nt > 1 ? static_cast<size_t>(nt) * Dp : 0, 0.0f);
  auto run = [&](int t) {
    const int64_t k0 = nnz * t / nt, k1 = nnz * (t + 1) / nt;
    float* yt = nt == 1 ? yp : ys.data() + static_cast<int64_t>(t) * Dp;
    const int64_t* rp = row_ptr.data_ptr<int64_t>();
    const float* vp = vals.data_ptr<float>();
    const auto* mp = reinterpret_cast<const uint64_t*>(masks.data_ptr<int64_t>());
    const bool simd = isa != Isa::kPortable;
    if (simd && interleaved) return actsparse::block_rows_masked(ap, idx, k0, k1, rp, mp, vp, yt, isa);
#if ACTSPARSE_X86
    if (isa == Isa::kAvx512 && grouped) return block_groups_avx512(ap, idx, k0, k1, rp, mp, vp, nb, yt);
    if (isa == Isa::kAvx2 && grouped) return actsparse::avx2::block_groups(ap, idx, k0, k1, rp, mp, vp, nb, yt);
#endif
    actsparse::block_rows(ap, idx, k0, k1, rp, block_col.data_ptr<int32_t>(), vp, yt, isa);
  };
  if (nt == 1) {
    run(0);
  } else {
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < nt; ++t) run(t);
  }
  if (nt > 1)
    for (int t = 0; t < nt; ++t)
      for (int64_t d = 0; d < D; ++d) yp[d] += ys[static_cast<int64_t>(t) * Dp + d];
  return Dp == D ? out : out.narrow(0, 0, D);
}

// ------------------------------------------------ up projection restricted to an index set
// h[i] = act(W_up[i, :] . x + b[i]) for i in idx, 0 elsewhere: what a perfect predictor of
// the active neurons would let an engine compute. act is ReLU when relu is set.
namespace {
#if ACTSPARSE_X86
__attribute__((target("avx512f"))) float dot_avx512(const float* w, const float* x, int64_t D) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int64_t d = 0;
  for (; d + 2 * kLanes <= D; d += 2 * kLanes) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + d), _mm512_loadu_ps(x + d), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + d + kLanes), _mm512_loadu_ps(x + d + kLanes), s1);
  }
  for (; d < D; d += kLanes) {
    const int64_t left = std::min<int64_t>(kLanes, D - d);
    const __mmask16 m = static_cast<__mmask16>((1u << left) - 1u);
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + d), _mm512_maskz_loadu_ps(m, x + d), s0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

// out[j] = w . X[j, :] for j < n <= 8: w is loaded once for all n inputs, and each sum is
// formed exactly as dot_avx512 forms it (same two accumulators, same order, same tail), so
// a byte's result does not depend on how many bytes share the call.
template <int N>
__attribute__((target("avx512f"))) void dots_avx512(const float* w, const float* X, int64_t D,
                                                    float* out) {
  __m512 s0[N], s1[N];
#pragma GCC unroll 8
  for (int j = 0; j < N; ++j) s0[j] = s1[j] = _mm512_setzero_ps();
  int64_t d = 0;
  for (; d + 2 * kLanes <= D; d += 2 * kLanes) {
    const __m512 w0 = _mm512_loadu_ps(w + d), w1 = _mm512_loadu_ps(w + d + kLanes);
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) {
      s0[j] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(X + j * D + d), s0[j]);
      s1[j] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(X + j * D + d + kLanes), s1[j]);
    }
  }
  for (; d < D; d += kLanes) {
    const int64_t left = std::min<int64_t>(kLanes, D - d);
    const __mmask16 m = static_cast<__mmask16>((1u << left) - 1u);
    const __m512 w0 = _mm512_maskz_loadu_ps(m, w + d);
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j)
      s0[j] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(m, X + j * D + d), s0[j]);
  }
#pragma GCC unroll 8
  for (int j = 0; j < N; ++j) out[j] = _mm512_reduce_add_ps(_mm512_add_ps(s0[j], s1[j]));
}

// y[o] = W[row(o), :] . x for o < O, row(o) = rows[o] (or o when rows is null), four rows
// at a time sharing each load of x; each row's sum formed exactly as dot_avx512 forms it,
// so the results equal O calls of it bit for bit.
__attribute__((target("avx512f"))) void gemv4_avx512(const float* W, const int32_t* rows,
                                                     const float* x, int64_t O, int64_t D,
                                                     float* y) {
  auto row = [&](int64_t o) { return W + (rows ? static_cast<int64_t>(rows[o]) : o) * D; };
  int64_t o = 0;
  for (; o + 4 <= O; o += 4) {
    const float* w[4] = {row(o), row(o + 1), row(o + 2), row(o + 3)};
    __m512 s0[4], s1[4];
    for (int r = 0; r < 4; ++r) s0[r] = s1[r] = _mm512_setzero_ps();
    int64_t d = 0;
    for (; d + 2 * kLanes <= D; d += 2 * kLanes) {
      const __m512 x0 = _mm512_loadu_ps(x + d), x1 = _mm512_loadu_ps(x + d + kLanes);
      for (int r = 0; r < 4; ++r) {
        s0[r] = _mm512_fmadd_ps(_mm512_loadu_ps(w[r] + d), x0, s0[r]);
        s1[r] = _mm512_fmadd_ps(_mm512_loadu_ps(w[r] + d + kLanes), x1, s1[r]);
      }
    }
    for (; d < D; d += kLanes) {
      const int64_t left = std::min<int64_t>(kLanes, D - d);
      const __mmask16 m = static_cast<__mmask16>((1u << left) - 1u);
      const __m512 x0 = _mm512_maskz_loadu_ps(m, x + d);
      for (int r = 0; r < 4; ++r)
        s0[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w[r] + d), x0, s0[r]);
    }
    for (int r = 0; r < 4; ++r) y[o + r] = _mm512_reduce_add_ps(_mm512_add_ps(s0[r], s1[r]));
  }
  for (; o < O; ++o) y[o] = dot_avx512(row(o), x, D);
}
#endif  // ACTSPARSE_X86

float dot_portable(const float* w, const float* x, int64_t D) {
  float s = 0.0f;
  for (int64_t d = 0; d < D; ++d) s += w[d] * x[d];
  return s;
}
}  // namespace

torch::Tensor up_indexed(torch::Tensor x, torch::Tensor w, torch::Tensor bias, torch::Tensor idx,
                         bool relu, int64_t threads, int64_t isa_code) {
  check_f32_contig(x, "x");
  check_f32_contig(w, "w");
  TORCH_CHECK(idx.scalar_type() == torch::kInt64 && idx.is_contiguous(),
              "idx must be contiguous int64");
  TORCH_CHECK(w.dim() == 2, "up_indexed: w must be [F, D]");
  const int64_t F = w.size(0), D = w.size(1);
  TORCH_CHECK(x.numel() == D, "up_indexed: x must be [D]");
  check_bias(bias, F, "up_indexed");
  auto h = torch::zeros({F}, x.options());
  float* hp = h.data_ptr<float>();
  const float *xp = x.data_ptr<float>(), *wp = w.data_ptr<float>();
  const float* bp = (bias.defined() && bias.numel() > 0) ? bias.data_ptr<float>() : nullptr;
  const int64_t* ip = idx.data_ptr<int64_t>();
  const int64_t n = idx.numel();
  for (int64_t k = 0; k < n; ++k)  // checked up front: no exception may leave an omp region
    TORCH_CHECK(ip[k] >= 0 && ip[k] < F, "up_indexed: index ", ip[k], " out of range [0, ", F, ")");
  const Isa isa = actsparse::checked_isa(isa_code);
  auto body = [&](int64_t k) {
    const int64_t i = ip[k];
    float v = actsparse::dot(wp + i * D, xp, D, isa);
    v += bp ? bp[i] : 0.0f;
    hp[i] = relu ? std::max(v, 0.0f) : v;
  };
  const int nt = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, n)));
  if (nt == 1) {
    for (int64_t k = 0; k < n; ++k) body(k);
  } else {
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t k = 0; k < n; ++k) body(k);
  }
  return h;
}

namespace actsparse {

// Whether the AVX-512 row streaming prefetches the rows kAheadRows on into L2, 16 rows a
// pass; without, it passes over 8 rows at a time. On the AMD EPYC (Zen 4) the prefetches are
// what lifted the kernel from 0.75 to 0.9-0.97 of ideal (see kGroup). On an Intel Xeon (2 MiB
// L2) they cost time: a standalone copy of this loop at 768x3072, 12 layers cycled, 1 thread,
// s = 0.875, took 124 us a call with them, 114 us without and 112 us without in groups of 8
// when every row came from DRAM; 73, 74 and 68 us after a dense pass over another layer. The
// same sums in the same order either way (one fused multiply-add per row, rows in order).
// Chosen once from the CPU's vendor; ACTSPARSE_ROW_PREFETCH=0|1 overrides it, to measure.
bool row_prefetch() {
  static const bool on = [] {
    if (const char* e = std::getenv("ACTSPARSE_ROW_PREFETCH")) return std::string(e) != "0";
#if ACTSPARSE_X86
    return !__builtin_cpu_is("intel");
#else
    return true;
#endif
  }();
  return on;
}

bool isa_supported(Isa isa) {
#if ACTSPARSE_X86
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  // The AVX-512 kernels also use bmi and popcnt, which every AVX-512 CPU has.
  static const bool avx512 = avx2 && __builtin_cpu_supports("avx512f");
  return isa == Isa::kPortable || (isa == Isa::kAvx2 && avx2) || (isa == Isa::kAvx512 && avx512);
#else
  return isa == Isa::kPortable;
#endif
}
Isa checked_isa(int64_t code) {
  static const char* names[] = {"portable", "avx2", "avx512"};
  TORCH_CHECK(code >= 0 && code <= 2, "unknown kernel ISA code ", code,
              " (0 portable, 1 avx2, 2 avx512)");
  const Isa isa = static_cast<Isa>(code);
  TORCH_CHECK(isa_supported(isa), "the ", names[code], " kernels cannot run on this CPU",
              ACTSPARSE_X86 ? "" : " (a build without x86 SIMD)");
  return isa;
}
float dot(const float* w, const float* x, int64_t D, Isa isa) {
#if ACTSPARSE_X86
  if (isa == Isa::kAvx512) return dot_avx512(w, x, D);
  if (isa == Isa::kAvx2) return avx2::dot(w, x, D);
#endif
  return dot_portable(w, x, D);
}
void gemv(const float* W, const int32_t* rows, const float* x, int64_t O, int64_t D, float* y,
          Isa isa) {
#if ACTSPARSE_X86
  if (isa == Isa::kAvx512) return gemv4_avx512(W, rows, x, O, D, y);
  if (isa == Isa::kAvx2) return avx2::gemv(W, rows, x, O, D, y);
#endif
  for (int64_t o = 0; o < O; ++o)
    y[o] = dot_portable(W + (rows ? static_cast<int64_t>(rows[o]) : o) * D, x, D);
}
void dots(const float* w, const float* X, int64_t n, int64_t D, float* out, Isa isa) {
#if ACTSPARSE_X86
  if (isa == Isa::kAvx2) return avx2::dots(w, X, n, D, out);
  if (isa == Isa::kAvx512) {
    for (int64_t j = 0; j < n; j += 8) {
      const float* Xj = X + j * D;
      float* o = out + j;
      switch (std::min<int64_t>(8, n - j)) {
        case 1: out[j] = dot_avx512(w, Xj, D); break;
        case 2: dots_avx512<2>(w, Xj, D, o); break;
        case 3: dots_avx512<3>(w, Xj, D, o); break;
        case 4: dots_avx512<4>(w, Xj, D, o); break;
        case 5: dots_avx512<5>(w, Xj, D, o); break;
        case 6: dots_avx512<6>(w, Xj, D, o); break;
        case 7: dots_avx512<7>(w, Xj, D, o); break;
        default: dots_avx512<8>(w, Xj, D, o); break;
      }
    }
    return;
  }
#endif
  for (int64_t j = 0; j < n; ++j) out[j] = dot_portable(w, X + j * D, D);
}
int64_t extract_active(const float* a, int64_t n, int32_t* idx, Isa isa) {
#if ACTSPARSE_X86
  if (isa == Isa::kAvx512) return active_avx512(a, n, idx);
  if (isa == Isa::kAvx2) return avx2::active(a, n, idx);
#endif
  return active_portable(a, n, idx);
}
int64_t union_active(const float* A, int64_t n, int64_t F, int32_t* idx) {
  return ::union_active(A, n, F, idx);
}
void down_rows_batch_range(const float* A, int64_t n, int64_t F, const int32_t* idx,
                           int64_t nnz, const float* wt, int64_t D, int64_t d0, int64_t d1,
                           float* Y, Isa isa) {
#if ACTSPARSE_X86
  if (isa == Isa::kAvx512) return down_rows_batch_avx512(A, n, F, idx, nnz, wt, D, d0, d1, Y);
  if (isa == Isa::kAvx2) return avx2::down_rows_batch(A, n, F, idx, nnz, wt, D, d0, d1, Y);
#endif
  down_rows_batch_portable(A, n, F, idx, nnz, wt, D, d0, d1, Y);
}
void down_rows_batch(const float* A, int64_t n, int64_t F, const int32_t* idx, int64_t nnz,
                     const float* wt, int64_t D, float* Y, Isa isa) {
  down_rows_batch_range(A, n, F, idx, nnz, wt, D, 0, D, Y, isa);
}
void down_rows(const float* a, const int32_t* idx, int64_t nnz, const float* wt, int64_t D,
               float* y, Isa isa) {
#if ACTSPARSE_X86
  if (isa == Isa::kAvx512) return down_rows_avx512(a, idx, nnz, wt, D, 0, D, y);
  if (isa == Isa::kAvx2) return avx2::down_rows(a, idx, nnz, wt, D, 0, D, y);
#endif
  down_cols_portable(a, idx, nnz, wt, D, 0, D, y);
}
void block_rows(const float* a, const int32_t* idx, int64_t k0, int64_t k1,
                const int64_t* row_ptr, const int32_t* block_col, const float* vals, float* y,
                Isa isa) {
#if ACTSPARSE_X86
  if (isa == Isa::kAvx512) return block_rows_avx512(a, idx, k0, k1, row_ptr, block_col, vals, y);
  if (isa == Isa::kAvx2) return avx2::block_rows(a, idx, k0, k1, row_ptr, block_col, vals, y);
#endif
  block_rows_portable(a, idx, k0, k1, row_ptr, block_col, vals, y);
}
void check_block_masks(const torch::Tensor& masks, int64_t F, int64_t D) {
  if (masks.numel() > 0)
    TORCH_CHECK(masks.scalar_type() == torch::kInt64 && masks.is_contiguous() &&
                    masks.numel() == F && D <= 64 * kLanes,
                "masks must be contiguous int64 [F], for D <= 1024");
}
void check_block_layout(const torch::Tensor& row_ptr, const torch::Tensor& block_col,
                        const torch::Tensor& vals, const torch::Tensor& masks, int64_t F,
                        int64_t D) {
  TORCH_CHECK(D >= 1, "block-sparse matrix: D must be >= 1, got ", D);
  TORCH_CHECK(row_ptr.scalar_type() == torch::kInt64 && row_ptr.is_contiguous() &&
                  row_ptr.numel() == F + 1,
              "row_ptr must be contiguous int64 with F + 1 entries");
  TORCH_CHECK(block_col.scalar_type() == torch::kInt32 && block_col.is_contiguous(),
              "block_col must be contiguous int32");
  const int64_t nnzb = block_col.numel();
  TORCH_CHECK(vals.scalar_type() == torch::kFloat32 && vals.is_contiguous() && vals.dim() == 2 &&
                  vals.size(0) == nnzb && vals.size(1) == kLanes,
              "vals must be [nnzb, 16] contiguous float32, nnzb = block_col's length");
  check_block_masks(masks, F, D);
  const int64_t* rp = row_ptr.data_ptr<int64_t>();
  TORCH_CHECK(rp[0] == 0 && rp[F] == nnzb, "row_ptr must start at 0 and end at nnzb (", nnzb,
              "), got ", rp[0], " and ", rp[F]);
}
void check_block_sparse(const torch::Tensor& row_ptr, const torch::Tensor& block_col,
                        const torch::Tensor& vals, const torch::Tensor& masks, int64_t F,
                        int64_t D) {
  check_block_layout(row_ptr, block_col, vals, masks, F, D);
  const int64_t nb = (D + kLanes - 1) / kLanes;
  const int64_t* rp = row_ptr.data_ptr<int64_t>();
  const int32_t* bc = block_col.data_ptr<int32_t>();
  const int64_t* mk = masks.numel() > 0 ? masks.data_ptr<int64_t>() : nullptr;
  for (int64_t i = 0; i < F; ++i) {
    TORCH_CHECK(rp[i] <= rp[i + 1], "row_ptr must not decrease (row ", i, ")");
    for (int64_t k = rp[i]; k < rp[i + 1]; ++k)
      TORCH_CHECK(bc[k] >= 0 && bc[k] < nb, "block_col ", bc[k], " of row ", i,
                  " is outside [0, ", nb, ")");
    if (mk) {
      const uint64_t m = static_cast<uint64_t>(mk[i]);
      TORCH_CHECK(__builtin_popcountll(m) == rp[i + 1] - rp[i] && (nb == 64 || (m >> nb) == 0),
                  "mask of row ", i, " does not match its ", rp[i + 1] - rp[i], " blocks");
    }
  }
}
NamedTensors::NamedTensors(const std::map<std::string, torch::Tensor>& named,
                           const std::vector<std::string>& known, std::string who, size_t layer)
    : named_(named), who_(std::move(who)), layer_(layer) {
  for (const auto& [name, t] : named)
    TORCH_CHECK(std::find(known.begin(), known.end(), name) != known.end(), who_, ": layer ",
                layer_, " has an unknown tensor '", name, "'");
}

const torch::Tensor& NamedTensors::at(const std::string& name) const {
  auto it = named_.find(name);
  TORCH_CHECK(it != named_.end(), who_, ": layer ", layer_, " lacks tensor '", name, "'");
  return it->second;
}

void check_f32(const torch::Tensor& t, c10::IntArrayRef shape, const std::string& what) {
  TORCH_CHECK(t.defined() && t.scalar_type() == torch::kFloat32 && t.is_contiguous(), what,
              " must be contiguous float32");
  TORCH_CHECK(t.sizes() == shape, what, " has shape ", t.sizes(), ", needs ", shape);
}

void block_rows_masked(const float* a, const int32_t* idx, int64_t k0, int64_t k1,
                       const int64_t* row_ptr, const uint64_t* masks, const float* vals,
                       float* y, Isa isa) {
  TORCH_CHECK(isa != Isa::kPortable, "block_rows_masked has no portable path");
  thread_local std::vector<BlockRow> rows;
  rows.resize(static_cast<size_t>(k1 - k0));
  gather_block_rows(a, idx, k0, k1, row_ptr, masks, vals, rows.data());
#if ACTSPARSE_X86
  if (isa == Isa::kAvx512) return block_interleave_avx512<kInterleave>(rows.data(), k1 - k0, y);
  avx2::block_interleave(rows.data(), k1 - k0, y);
#endif
}
}  // namespace actsparse
