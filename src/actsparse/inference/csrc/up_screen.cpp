// A certified screen of a ReLU-type up projection: which neurons' fp32 pre-activations
// W[o] . x + b[o] may exceed the activation's threshold (0 for ReLU, the shift for the
// shifted ReLU, T for FATReLU), judged from int8 copies of W (a scale per row) and x (a scale per call),
// at a quarter of the bytes of the fp32 GEMV: the engine's step is bound by how fast the
// weights stream from L3, not by arithmetic.
//
// The screen never drops an active neuron. With Wq[o] = s_o q_o and xq = t p the
// dequantized copies, its estimate a_o = s_o t (q_o . p) (an exact integer dot, then a few
// fp32 roundings) carries a rigorous bound on its distance to the fp32 result the dense
// path computes:
//   |fl32(W[o] . x) - a_o| <= gamma |W[o]| |x|                    (the dense path's rounding)
//                           + |W[o] - Wq[o]| |x| + |Wq[o]| |x - xq|   (the int8 rounding)
// with |.| the 2-norm (Cauchy-Schwarz bounds the sum of |w_j x_j| by it) and
// gamma = D u / (1 - D u), u = 2^-24, which bounds any order of D fp32 additions. The
// per-row factors c1 = gamma |W[o]| + |W[o] - Wq[o]| and c2 = |Wq[o]| are prepared once,
// rounded up (kernels.UpScreen). A row left out has a_o + b_o + bound <= threshold, so its
// activation is exactly 0 on the dense path too, and an engine that computes only the rows
// kept (exactly, in fp32) produces the dense path's activations bit for bit. Measured on
// the relufied default model: 10% of rows kept where 8% are active (bf16 copies kept 8.3%
// but read twice the bytes).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "sparse_ffn.h"

#if ACTSPARSE_X86
#include <immintrin.h>
#endif

using actsparse::Isa;
using actsparse::UpScreenRows;

namespace {

// Slack for the few fp32 operations that evaluate the estimate, the bound and the test
// themselves: relative 2^-8 on the bound, 2^-20 of the magnitudes added, and 2^-100
// absolute for an underflowing scale product.
constexpr float kBoundSlack = 1.0f + 1.0f / 256.0f;
constexpr float kSumSlack = 1.0f / 1048576.0f;
constexpr float kTiny = 7.888609052210118e-31f;  // 2^-100

bool cpu_has_avx512vnni() {
#if ACTSPARSE_X86
  static const bool ok =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vnni");
  return ok;
#else
  return false;
#endif
}

// x quantized to p in [-127, 127] with the scale t (x ~ t p), stored as p + 128 for the
// unsigned operand of vpdpbusd; and the per-call scales of the bound.
struct QuantX {
  std::vector<uint8_t> p;
  float t = 0.0f, s1 = 0.0f, s2 = 0.0f;
  bool finite = true;
};

void quantize_x(const float* x, int64_t D, QuantX& q) {
  q.p.assign(D, 128);
  float mx = 0.0f;
  for (int64_t d = 0; d < D; ++d) mx = std::max(mx, std::fabs(x[d]));
  q.finite = std::isfinite(mx);  // NaN compares false: max stays finite, the sum below not
  q.t = mx > 0.0f ? mx / 127.0f : 1.0f;
  const float inv = 1.0f / q.t;
  double nx = 0, ex = 0;
  for (int64_t d = 0; d < D; ++d) {
    const float v = std::nearbyint(std::clamp(x[d] * inv, -127.0f, 127.0f));
    q.p[d] = static_cast<uint8_t>(static_cast<int>(v) + 128);
    const double e = static_cast<double>(x[d]) - static_cast<double>(q.t) * v;
    nx += static_cast<double>(x[d]) * x[d];
    ex += e * e;
  }
  q.finite = q.finite && std::isfinite(nx);
  q.s1 = static_cast<float>(std::sqrt(nx)) * kBoundSlack;
  q.s2 = static_cast<float>(std::sqrt(ex)) * kBoundSlack;
}

#if ACTSPARSE_X86
// quantize_x with AVX-512: the same p (same products, same rounding), the norms summed in
// fp32 (their rounding, relative D u at most, is far inside kBoundSlack).
__attribute__((target("avx512f,avx512bw"))) void quantize_x_avx512(const float* x, int64_t D,
                                                                   QuantX& q) {
  q.p.resize(D);
  auto mask = [&](int64_t d) {
    return static_cast<__mmask16>(d + 16 <= D ? 0xffffu : (1u << (D - d)) - 1u);
  };
  __m512 mx = _mm512_setzero_ps();
  for (int64_t d = 0; d < D; d += 16)
    mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_maskz_loadu_ps(mask(d), x + d)));
  const float peak = _mm512_reduce_max_ps(mx);
  q.t = peak > 0.0f ? peak / 127.0f : 1.0f;
  const __m512 inv = _mm512_set1_ps(1.0f / q.t), t = _mm512_set1_ps(q.t),
               lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
  __m512 nx = _mm512_setzero_ps(), ex = _mm512_setzero_ps();
  for (int64_t d = 0; d < D; d += 16) {
    const __mmask16 m = mask(d);
    const __m512 xv = _mm512_maskz_loadu_ps(m, x + d);
    const __m512 v = _mm512_roundscale_ps(
        _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(xv, inv), lo), hi),
        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm512_mask_cvtepi32_storeu_epi8(
        q.p.data() + d, m, _mm512_add_epi32(_mm512_cvtps_epi32(v), _mm512_set1_epi32(128)));
    const __m512 e = _mm512_fnmadd_ps(t, v, xv);  // x - t v, rounded once
    nx = _mm512_fmadd_ps(xv, xv, nx);
    ex = _mm512_fmadd_ps(e, e, ex);
  }
  const float nx2 = _mm512_reduce_add_ps(nx);
  q.finite = std::isfinite(nx2);  // a NaN or an infinity (or an overflowing square)
  q.s1 = std::sqrt(nx2) * kBoundSlack;
  q.s2 = std::sqrt(_mm512_reduce_add_ps(ex)) * kBoundSlack;
}

#endif  // ACTSPARSE_X86

// Whether a row with estimate `a` may exceed thresh.
bool may_exceed(float a, float b, float c1, float c2, const QuantX& q, float thresh) {
  const float bound = c1 * q.s1 + c2 * q.s2;
  const float slack = (std::fabs(a) + std::fabs(b) + std::fabs(thresh)) * kSumSlack + kTiny;
  return !(a + b + bound + slack <= thresh);
}

int64_t screen_portable(const UpScreenRows& w, const float* b, const QuantX& q, int64_t o0,
                        int64_t o1, int64_t D, float thresh, int32_t* cand) {
  int64_t k = 0;
  for (int64_t o = o0; o < o1; ++o) {
    const int8_t* r = w.q + o * D;
    int32_t dot = 0;
    for (int64_t d = 0; d < D; ++d) dot += static_cast<int32_t>(r[d]) * q.p[d];
    const float a = static_cast<float>(dot - 128 * w.qsum[o]) * (w.scale[o] * q.t);
    cand[k] = static_cast<int32_t>(o);
    k += may_exceed(a, b ? b[o] : 0.0f, w.c1[o], w.c2[o], q, thresh);
  }
  return k;
}

#if ACTSPARSE_X86
// 16 integer accumulators -> one register of their 16 sums (lane r: accumulator r). A
// tree of shuffles: halves, then quarters of 128-bit chunks, then pairs, then single
// lanes; it leaves accumulator 4m + k in lane 4k + m, which the final permutation undoes.
template <int Imm>
__attribute__((target("avx512f"))) inline __m512i shuffle32(__m512i a, __m512i b) {
  return _mm512_castps_si512(_mm512_shuffle_ps(_mm512_castsi512_ps(a), _mm512_castsi512_ps(b), Imm));
}

__attribute__((target("avx512f"))) __m512i reduce16(const __m512i* a) {
  __m512i b[8], c[4], d[2];
  for (int j = 0; j < 8; ++j)
    b[j] = _mm512_add_epi32(_mm512_shuffle_i32x4(a[2 * j], a[2 * j + 1], 0x44),
                            _mm512_shuffle_i32x4(a[2 * j], a[2 * j + 1], 0xEE));
  for (int j = 0; j < 4; ++j)
    c[j] = _mm512_add_epi32(_mm512_shuffle_i32x4(b[2 * j], b[2 * j + 1], 0x88),
                            _mm512_shuffle_i32x4(b[2 * j], b[2 * j + 1], 0xDD));
  for (int j = 0; j < 2; ++j)
    d[j] = _mm512_add_epi32(shuffle32<0x44>(c[2 * j], c[2 * j + 1]),
                            shuffle32<0xEE>(c[2 * j], c[2 * j + 1]));
  const __m512i e =
      _mm512_add_epi32(shuffle32<0x88>(d[0], d[1]), shuffle32<0xDD>(d[0], d[1]));
  const __m512i perm = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_epi32(perm, e);
}

// 16 rows per pass, each load of p shared by all of them; 64 int8 products per
// instruction (vpdpbusd), exact in int32.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) int64_t screen_avx512(
    const UpScreenRows& w, const float* b, const QuantX& q, int64_t O, int64_t D, float thresh,
    int32_t* cand) {
  constexpr int R = 16;
  const int64_t tail = D % 64;
  const __mmask64 tm = tail ? (~0ull >> (64 - tail)) : 0;
  const __m512 s1 = _mm512_set1_ps(q.s1), s2 = _mm512_set1_ps(q.s2), t = _mm512_set1_ps(q.t),
               th = _mm512_set1_ps(thresh), abs_th = _mm512_set1_ps(std::fabs(thresh)),
               slack = _mm512_set1_ps(kSumSlack), tiny = _mm512_set1_ps(kTiny);
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const uint8_t* p = q.p.data();
  int64_t k = 0, o = 0;
  for (; o + R <= O; o += R) {
    __m512i acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_si512();
    const int8_t* rows = w.q + o * D;
    int64_t d = 0;
    for (; d + 64 <= D; d += 64) {
      const __m512i xv = _mm512_loadu_si512(p + d);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r)
        acc[r] = _mm512_dpbusd_epi32(acc[r], xv, _mm512_loadu_si512(rows + r * D + d));
    }
    if (tail) {
      const __m512i xv = _mm512_maskz_loadu_epi8(tm, p + d);
      for (int r = 0; r < R; ++r)
        acc[r] = _mm512_dpbusd_epi32(acc[r], xv, _mm512_maskz_loadu_epi8(tm, rows + r * D + d));
    }
    const __m512i dot = _mm512_sub_epi32(
        reduce16(acc), _mm512_slli_epi32(_mm512_loadu_si512(w.qsum + o), 7));  // - 128 qsum
    const __m512 a = _mm512_mul_ps(_mm512_cvtepi32_ps(dot),
                                   _mm512_mul_ps(_mm512_loadu_ps(w.scale + o), t));
    const __m512 bias = b ? _mm512_loadu_ps(b + o) : _mm512_setzero_ps();
    const __m512 bound = _mm512_fmadd_ps(_mm512_loadu_ps(w.c1 + o), s1,
                                         _mm512_mul_ps(_mm512_loadu_ps(w.c2 + o), s2));
    const __m512 mag = _mm512_add_ps(_mm512_add_ps(_mm512_abs_ps(a), _mm512_abs_ps(bias)), abs_th);
    const __m512 sum = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a, bias), bound),
                                     _mm512_fmadd_ps(mag, slack, tiny));
    const __mmask16 keep = _mm512_cmp_ps_mask(sum, th, _CMP_NLE_UQ);  // NaN: kept
    _mm512_mask_compressstoreu_epi32(
        cand + k, keep, _mm512_add_epi32(iota, _mm512_set1_epi32(static_cast<int32_t>(o))));
    k += __builtin_popcount(keep);
  }
  return k + screen_portable(w, b, q, o, O, D, thresh, cand + k);  // the last O % 16 rows
}

// The screen with AVX2: the same integer dots q . p, formed without VNNI. vpmaddubsw
// multiplies unsigned by signed bytes and adds pairs into int16, saturating; with p + 128
// (up to 255) a pair reaches 2 * 255 * 127 and would saturate, so the signs move instead:
// |q| (at most 127, unsigned) times p carrying q's sign (in [-127, 127]) gives pairs of at
// most 2 * 127 * 127 = 32,258 < 32,767, exact. vpmaddwd then adds pairs into int32. The
// dot is then q . p itself (no 128 qsum to remove), the integer the portable path forms,
// and each row is judged by the same may_exceed: the same rows, bit for bit.
__attribute__((target("avx2"))) int64_t screen_avx2(const UpScreenRows& w, const float* b,
                                                    const QuantX& q, int64_t O, int64_t D,
                                                    float thresh, int32_t* cand) {
  constexpr int R = 4;
  const int64_t full = D / 32 * 32;
  thread_local std::vector<int8_t> ps;  // p as signed bytes
  ps.resize(static_cast<size_t>(D));
  for (int64_t d = 0; d < D; ++d) ps[d] = static_cast<int8_t>(static_cast<int>(q.p[d]) - 128);
  const __m256i ones = _mm256_set1_epi16(1);
  int64_t k = 0, o = 0;
  for (; o + R <= O; o += R) {
    __m256i acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_si256();
    const int8_t* rows = w.q + o * D;
    for (int64_t d = 0; d < full; d += 32) {
      const __m256i pv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ps.data() + d));
      for (int r = 0; r < R; ++r) {
        const __m256i qv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows + r * D + d));
        const __m256i pairs =
            _mm256_maddubs_epi16(_mm256_sign_epi8(qv, qv), _mm256_sign_epi8(pv, qv));
        acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(pairs, ones));
      }
    }
    alignas(32) int32_t lanes[8];
    for (int r = 0; r < R; ++r) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc[r]);
      int32_t dot = 0;
      for (int l = 0; l < 8; ++l) dot += lanes[l];
      for (int64_t t = full; t < D; ++t) dot += static_cast<int32_t>(rows[r * D + t]) * ps[t];
      const int64_t row = o + r;
      const float a = static_cast<float>(dot) * (w.scale[row] * q.t);
      cand[k] = static_cast<int32_t>(row);
      k += may_exceed(a, b ? b[row] : 0.0f, w.c1[row], w.c2[row], q, thresh);
    }
  }
  return k + screen_portable(w, b, q, o, O, D, thresh, cand + k);  // the last O % 4 rows
}
#endif  // ACTSPARSE_X86

}  // namespace

namespace actsparse {

UpScreenRows screen_view(const torch::Tensor& q, const torch::Tensor& qsum,
                         const torch::Tensor& factors) {
  const float* f = factors.data_ptr<float>();
  const int64_t O = qsum.numel();
  return {q.data_ptr<int8_t>(), qsum.data_ptr<int32_t>(), f, f + O, f + 2 * O};
}

// isa avx512 runs the VNNI screen where the CPU has VNNI, else the AVX2 one.
int64_t screen_rows(const UpScreenRows& w, const float* b, const float* x, int64_t O, int64_t D,
                    float thresh, int32_t* cand, Isa isa) {
  thread_local QuantX q;
  const bool vnni = isa == Isa::kAvx512 && cpu_has_avx512vnni();
#if ACTSPARSE_X86
  if (vnni) quantize_x_avx512(x, D, q);
  else quantize_x(x, D, q);
#else
  quantize_x(x, D, q);
#endif
  if (!q.finite) {  // a NaN or an infinity reaches every row, as it would densely
    for (int64_t o = 0; o < O; ++o) cand[o] = static_cast<int32_t>(o);
    return O;
  }
#if ACTSPARSE_X86
  if (vnni) return screen_avx512(w, b, q, O, D, thresh, cand);
  if (isa != Isa::kPortable) return screen_avx2(w, b, q, O, D, thresh, cand);
#endif
  return screen_portable(w, b, q, 0, O, D, thresh, cand);
}

}  // namespace actsparse

// The screen alone, for tests: the rows of x's up projection it keeps (int32, ascending).
torch::Tensor up_screen(torch::Tensor x, torch::Tensor q, torch::Tensor qsum,
                        torch::Tensor factors, torch::Tensor bias, double thresh, int64_t isa) {
  TORCH_CHECK(x.scalar_type() == torch::kFloat32 && x.is_contiguous() && x.dim() == 1,
              "up_screen: x must be a contiguous float32 vector");
  TORCH_CHECK(q.scalar_type() == torch::kInt8 && q.is_contiguous() && q.dim() == 2,
              "up_screen: q must be a contiguous int8 matrix");
  const int64_t O = q.size(0), D = q.size(1);
  TORCH_CHECK(x.numel() == D, "up_screen: x has ", x.numel(), " entries, q rows ", D);
  TORCH_CHECK(qsum.scalar_type() == torch::kInt32 && qsum.is_contiguous() && qsum.numel() == O,
              "up_screen: qsum must be int32 [", O, "]");
  TORCH_CHECK(factors.scalar_type() == torch::kFloat32 && factors.is_contiguous() &&
                  factors.numel() == 3 * O,
              "up_screen: factors must be float32 [3, ", O, "]");
  const bool has_b = bias.defined() && bias.numel() > 0;
  TORCH_CHECK(!has_b || (bias.scalar_type() == torch::kFloat32 && bias.is_contiguous() &&
                          bias.numel() == O),
              "up_screen: bias must be float32 [", O, "]");
  auto cand = torch::empty({O}, torch::kInt32);
  const int64_t k = actsparse::screen_rows(actsparse::screen_view(q, qsum, factors),
                                           has_b ? bias.data_ptr<float>() : nullptr,
                                           x.data_ptr<float>(), O, D, static_cast<float>(thresh),
                                           cand.data_ptr<int32_t>(), actsparse::checked_isa(isa));
  return cand.slice(0, 0, k).clone();
}

void bind_up_screen(pybind11::module& m) {
  m.def("up_screen", &up_screen, "rows of a ReLU-type up projection that may be active");
  m.def("has_avx512vnni", &cpu_has_avx512vnni, "whether the screen's VNNI path runs here");
}
