// A whole-model decode step in C++ (KV cache, fp32): one call per byte, so the FFN's
// share of a step is what it is in an engine, not hidden under per-op Python overhead.
// The FFN down projection runs densely (row dot products over W_down [D, F]), sparsely
// (column skipping over W_down^T), or block-sparsely (1x16 blocks); the screened path
// also skips the up projection's certainly-zero neurons (int8 screen, up_screen.cpp) and
// computes the rest exactly. Everything else is identical between the paths. A call may
// feed several bytes at once (the verification pass of speculative decoding): every
// weight matrix is then read once for all of them, and the sparse path touches the union
// of their active neurons.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sparse_ffn.h"
#include "sparse_ffn_avx2.h"

#if ACTSPARSE_X86
#include <immintrin.h>
#endif

namespace {

using actsparse::Isa;

struct Layer {
  torch::Tensor ln1_w, ln1_b, qkv_w, qkv_b, proj_w, proj_b, ln2_w, ln2_b, up_w, up_b, down_w,
      down_b, down_t;
  torch::Tensor row_ptr, block_col, block_vals, block_masks;  // K.BlockSparse
  torch::Tensor up_q, up_qsum, up_factors;  // the screened path's int8 copy of up_w (UpScreen)
};

enum Path : int64_t { kDense = 0, kSparse = 1, kBlockSparse = 2, kScreened = 3 };

const float* ptr(const torch::Tensor& t) {
  return t.defined() && t.numel() > 0 ? t.data_ptr<float>() : nullptr;
}

void layer_norm(const float* x, const float* w, const float* b, int64_t D, bool relu, float* y) {
  double mean = 0, var = 0;
  for (int64_t d = 0; d < D; ++d) mean += x[d];
  mean /= D;
  for (int64_t d = 0; d < D; ++d) var += (x[d] - mean) * (x[d] - mean);
  const float inv = 1.0f / std::sqrt(static_cast<float>(var / D) + 1e-5f);
  for (int64_t d = 0; d < D; ++d) {
    float v = (x[d] - static_cast<float>(mean)) * inv * w[d] + (b ? b[d] : 0.0f);
    y[d] = relu ? std::max(v, 0.0f) : v;
  }
}

// Y[j, o] = W[r, :] . X[j, :] + b[r] for o < O, r = rows[o] (every row of W [*, I] in order
// when rows is null), and n inputs X [n, I]: each row of W is loaded once for up to 8
// inputs at a time. A row's sums do not depend on which other rows share the call.
void gemm_rows(const float* W, const float* b, const int32_t* rows, const float* X, int64_t n,
               int64_t O, int64_t I, Isa isa, float* Y) {
  auto row = [&](int64_t o) { return rows ? static_cast<int64_t>(rows[o]) : o; };
  if (n == 1) {  // a plain GEMV, four rows per pass over x
    actsparse::gemv(W, rows, X, O, I, Y, isa);
    if (b)
      for (int64_t o = 0; o < O; ++o) Y[o] += b[row(o)];
    return;
  }
  std::vector<float> out(n);
  for (int64_t o = 0; o < O; ++o) {
    actsparse::dots(W + row(o) * I, X, n, I, out.data(), isa);
    for (int64_t j = 0; j < n; ++j) Y[j * O + o] = out[j] + (b ? b[row(o)] : 0.0f);
  }
}

// out[0:C] = sum over s < n of w[s] * V[s * stride + 0:C] (an attention head's values):
// the output held in registers across all positions, 64 columns at a time.
#if ACTSPARSE_X86
__attribute__((target("avx512f"))) void weighted_rows_avx512(const float* w, const float* V,
                                                             int64_t n, int64_t stride,
                                                             int64_t C, float* out) {
  for (int64_t c0 = 0; c0 < C; c0 += 64) {
    __mmask16 m[4];
    for (int j = 0; j < 4; ++j) {
      const int64_t left = std::clamp<int64_t>(C - c0 - 16 * j, 0, 16);
      m[j] = static_cast<__mmask16>((1u << left) - 1u);
    }
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                     _mm512_setzero_ps()};
    for (int64_t s = 0; s < n; ++s) {
      const __m512 ws = _mm512_set1_ps(w[s]);
      const float* v = V + s * stride + c0;
      for (int j = 0; j < 4; ++j)
        acc[j] = _mm512_fmadd_ps(ws, _mm512_maskz_loadu_ps(m[j], v + 16 * j), acc[j]);
    }
    for (int j = 0; j < 4; ++j) _mm512_mask_storeu_ps(out + c0 + 16 * j, m[j], acc[j]);
  }
}

#endif  // ACTSPARSE_X86

void weighted_rows(const float* w, const float* V, int64_t n, int64_t stride, int64_t C,
                   float* out, Isa isa) {
#if ACTSPARSE_X86
  if (isa == Isa::kAvx512) return weighted_rows_avx512(w, V, n, stride, C, out);
  if (isa == Isa::kAvx2) return actsparse::avx2::weighted_rows(w, V, n, stride, C, out);
#endif
  std::fill(out, out + C, 0.0f);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t c = 0; c < C; ++c) out[c] += w[s] * V[s * stride + c];
}

float activate(float x, int64_t kind, float shift, float beta) {
  switch (kind) {
    case 0: return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));  // gelu
    case 1: return std::max(x, 0.0f);                                       // relu
    case 2: return std::max(x - shift, 0.0f);                               // shifted relu
    case 4: return x > shift ? x : 0.0f;                                     // fatrelu
    default:                                                                 // x sigmoid(beta x)
      return std::isinf(beta) ? std::max(x, 0.0f) : x / (1.0f + std::exp(-beta * x));
  }
}

// A layer's tensors arrive by name (a dict from Python); every name must be there and no
// other, so a tensor can never land in the wrong slot.
const std::vector<std::string> kLayerTensors = {
    "ln1_w", "ln1_b", "qkv_w", "qkv_b", "proj_w", "proj_b", "ln2_w", "ln2_b", "up_w", "up_b",
    "down_w", "down_b", "down_t", "row_ptr", "block_col", "block_vals", "block_masks", "up_q",
    "up_qsum", "up_factors"};

Layer layer_from(const std::map<std::string, torch::Tensor>& named, size_t index) {
  const actsparse::NamedTensors tensors(named, kLayerTensors, "decode engine", index);
  auto at = [&](const std::string& name) { return tensors.at(name); };
  return Layer{at("ln1_w"),     at("ln1_b"),      at("qkv_w"),       at("qkv_b"),
               at("proj_w"),    at("proj_b"),     at("ln2_w"),       at("ln2_b"),
               at("up_w"),      at("up_b"),       at("down_w"),      at("down_b"),
               at("down_t"),    at("row_ptr"),    at("block_col"),   at("block_vals"),
               at("block_masks"), at("up_q"),     at("up_qsum"),     at("up_factors")};
}

class DecodeEngineCpp {
 public:
  DecodeEngineCpp(std::vector<std::map<std::string, torch::Tensor>> layers, torch::Tensor wte,
                  torch::Tensor wpe, torch::Tensor lnf_w, torch::Tensor lnf_b, torch::Tensor head,
                  int64_t n_head, int64_t act_kind, double act_shift, double act_beta,
                  bool norm_relu, int64_t path, int64_t isa)
      : wte_(wte.contiguous()), wpe_(wpe.contiguous()), lnf_w_(lnf_w), lnf_b_(lnf_b),
        head_(head.contiguous()), n_head_(n_head), act_kind_(act_kind),
        act_shift_(static_cast<float>(act_shift)), act_beta_(static_cast<float>(act_beta)),
        norm_relu_(norm_relu), path_(path), isa_(actsparse::checked_isa(isa)) {
    for (size_t i = 0; i < layers.size(); ++i) layers_.push_back(layer_from(layers[i], i));
    if (path_ == kScreened) {
      // The screen proves pre-activations <= a threshold; only these activations are
      // exactly 0 below one (x sigmoid(beta x) with beta = inf is ReLU).
      const bool relu = act_kind_ == 1 || (act_kind_ == 3 && std::isinf(act_beta_));
      const bool shifted = act_kind_ == 2 || act_kind_ == 4;  // zero at or below the shift
      TORCH_CHECK(relu || shifted, "the screened path needs a ReLU-type activation");
      thresh_ = shifted ? act_shift_ : 0.0f;
      for (const Layer& L : layers_)
        TORCH_CHECK(L.up_q.scalar_type() == torch::kInt8 && L.up_q.numel() == L.up_w.numel(),
                    "the screened path needs each layer's int8 up_q");
    }
    TORCH_CHECK(!layers_.empty(), "decode engine: no layers");
    TORCH_CHECK(wte_.dim() == 2 && wpe_.dim() == 2 && wpe_.size(1) == wte_.size(1) &&
                    head_.sizes() == wte_.sizes(),
                "decode engine: wte [V, D], wpe [T, D] and head [V, D] must agree");
    D_ = wte_.size(1);
    TORCH_CHECK(n_head_ >= 1 && D_ % n_head_ == 0, "decode engine: n_head ", n_head_,
                " must divide D ", D_);
    TORCH_CHECK(lnf_w_.numel() == D_ && (lnf_b_.numel() == 0 || lnf_b_.numel() == D_),
                "decode engine: the final norm's weight and bias must be [D]");
    TORCH_CHECK(path_ >= kDense && path_ <= kScreened, "decode engine: unknown path ", path_);
    TORCH_CHECK(layers_[0].up_w.dim() == 2, "decode engine: up_w must be [F, D]");
    F_ = layers_[0].up_w.size(0);
    for (const Layer& L : layers_) check_layer(L);
    T_ = wpe_.size(0);
    kcache_.assign(layers_.size() * T_ * D_, 0.0f);
    vcache_.assign(layers_.size() * T_ * D_, 0.0f);
  }

  // Every tensor of a layer checked once, here, so the step loops can trust them.
  void check_layer(const Layer& L) const {
    const int64_t D = D_, F = F_;
    auto want = [](const torch::Tensor& t, std::vector<int64_t> shape, bool optional,
                   const char* name) {
      if (optional && (!t.defined() || t.numel() == 0)) return;
      actsparse::check_f32(t, shape, std::string("decode engine: ") + name);
    };
    want(L.ln1_w, {D}, false, "ln1_w");
    want(L.ln1_b, {D}, true, "ln1_b");
    want(L.qkv_w, {3 * D, D}, false, "qkv_w");
    want(L.qkv_b, {3 * D}, true, "qkv_b");
    want(L.proj_w, {D, D}, false, "proj_w");
    want(L.proj_b, {D}, true, "proj_b");
    want(L.ln2_w, {D}, false, "ln2_w");
    want(L.ln2_b, {D}, true, "ln2_b");
    want(L.up_w, {F, D}, false, "up_w");
    want(L.up_b, {F}, true, "up_b");
    want(L.down_w, {D, F}, false, "down_w");
    want(L.down_b, {D}, true, "down_b");
    want(L.down_t, {F, D}, false, "down_t");
    if (path_ == kScreened) {
      TORCH_CHECK(L.up_qsum.scalar_type() == torch::kInt32 && L.up_qsum.is_contiguous() &&
                      L.up_qsum.numel() == F,
                  "decode engine: up_qsum must be contiguous int32 [F]");
      want(L.up_factors, {3, F}, false, "up_factors");
    }
    if (path_ == kBlockSparse)
      actsparse::check_block_sparse(L.row_ptr, L.block_col, L.block_vals, L.block_masks, F, D);
    else
      actsparse::check_block_masks(L.block_masks, F, D);
  }

  void reset() {
    pos_ = 0;
    zeros_ = 0;
    total_ = 0;
    union_active_ = 0;
    union_total_ = 0;
    screen_kept_ = 0;
    screen_total_ = 0;
  }
  int64_t zeros() const { return zeros_; }
  int64_t total() const { return total_; }

  // Feed bytes at positions pos.. (causal among themselves); returns logits [n, 256], row j
  // predicting the byte after bytes[j]. A byte's logits do not depend on how many bytes
  // share the call: the same dot products are summed in the same order either way.
  torch::Tensor forward(const std::vector<int64_t>& bytes) {
    const int64_t n = static_cast<int64_t>(bytes.size());
    TORCH_CHECK(n >= 1, "forward needs at least one byte");
    TORCH_CHECK(pos_ + n <= T_, "context full: the engine holds ", T_, " bytes, ", pos_,
                " used, ", n, " more asked");
    for (int64_t b : bytes) TORCH_CHECK(b >= 0 && b < wte_.size(0), "byte ", b, " out of range");
    const int64_t D = D_, F = F_, hd = D / n_head_, t0 = pos_;
    std::vector<float> x(n * D), h(n * D), qkv(n * 3 * D), att(n * D), tmp(n * D), u(n * F),
        scores(t0 + n);
    std::vector<int32_t> idx(F);
    for (int64_t j = 0; j < n; ++j) {
      const float *e = wte_.data_ptr<float>() + bytes[j] * D,
                  *p = wpe_.data_ptr<float>() + (t0 + j) * D;
      for (int64_t d = 0; d < D; ++d) x[j * D + d] = e[d] + p[d];
    }
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    auto norm = [&](const float* w, const float* b) {
      for (int64_t j = 0; j < n; ++j) layer_norm(&x[j * D], w, b, D, norm_relu_, &h[j * D]);
    };
    for (size_t l = 0; l < layers_.size(); ++l) {
      const Layer& L = layers_[l];
      norm(ptr(L.ln1_w), ptr(L.ln1_b));
      gemm_rows(ptr(L.qkv_w), ptr(L.qkv_b), nullptr, h.data(), n, 3 * D, D, isa_, qkv.data());
      float* K = kcache_.data() + (l * T_) * D;
      float* V = vcache_.data() + (l * T_) * D;
      for (int64_t j = 0; j < n; ++j) {
        const float* r = &qkv[j * 3 * D];
        std::copy(r + D, r + 2 * D, K + (t0 + j) * D);
        std::copy(r + 2 * D, r + 3 * D, V + (t0 + j) * D);
      }
      for (int64_t j = 0; j < n; ++j) {
        const int64_t t = t0 + j;
        for (int64_t hh = 0; hh < n_head_; ++hh) {
          const float* q = &qkv[j * 3 * D + hh * hd];
          float mx = -INFINITY;
          for (int64_t s = 0; s <= t; ++s) {
            scores[s] = actsparse::dot(K + s * D + hh * hd, q, hd, isa_) * scale;
            mx = std::max(mx, scores[s]);
          }
          float sum = 0.0f;
          for (int64_t s = 0; s <= t; ++s) sum += (scores[s] = std::exp(scores[s] - mx));
          for (int64_t s = 0; s <= t; ++s) scores[s] /= sum;
          weighted_rows(scores.data(), V + hh * hd, t + 1, D, hd, &att[j * D + hh * hd], isa_);
        }
      }
      gemm_rows(ptr(L.proj_w), ptr(L.proj_b), nullptr, att.data(), n, D, D, isa_, tmp.data());
      for (int64_t i = 0; i < n * D; ++i) x[i] += tmp[i];
      norm(ptr(L.ln2_w), ptr(L.ln2_b));
      int64_t active = -1;  // the screened path knows its active rows: no second search
      if (path_ == kScreened) {
        active = screened_up(L, h.data(), n, idx.data(), u.data());
      } else {
        gemm_rows(ptr(L.up_w), ptr(L.up_b), nullptr, h.data(), n, F, D, isa_, u.data());
        for (int64_t i = 0; i < n * F; ++i)
          u[i] = activate(u[i], act_kind_, act_shift_, act_beta_);
      }
      for (int64_t i = 0; i < n * F; ++i) zeros_ += (u[i] == 0.0f);
      total_ += n * F;
      down(L, u.data(), n, active, idx.data(), tmp.data());
      for (int64_t i = 0; i < n * D; ++i) x[i] += tmp[i];
    }
    pos_ += n;
    const int64_t V = head_.size(0);
    for (int64_t j = 0; j < n; ++j) layer_norm(&x[j * D], ptr(lnf_w_), ptr(lnf_b_), D, false, &h[j * D]);
    auto logits = torch::empty({n, V}, torch::kFloat32);
    gemm_rows(ptr(head_), nullptr, nullptr, h.data(), n, V, D, isa_, logits.data_ptr<float>());
    return logits;
  }

  torch::Tensor step(int64_t byte) { return forward({byte})[0]; }

  // Forget every byte from position pos on (a rejected draft's keys and values).
  void rollback(int64_t pos) {
    TORCH_CHECK(pos >= 0 && pos <= pos_, "rollback to ", pos, " outside [0, ", pos_, "]");
    pos_ = pos;
  }
  int64_t pos() const { return pos_; }
  int64_t union_active() const { return union_active_; }
  int64_t screen_kept() const { return screen_kept_; }
  int64_t screen_total() const { return screen_total_; }
  int64_t union_total() const { return union_total_; }

  // Greedy generation in one call: (new bytes, seconds spent generating them).
  std::pair<std::vector<int64_t>, double> generate(std::vector<int64_t> prompt, int64_t n_new) {
    TORCH_CHECK(!prompt.empty(), "generate needs a non-empty prompt");
    TORCH_CHECK(n_new >= 0, "generate: n_new must be >= 0, got ", n_new);
    reset();
    for (size_t i = 0; i + 1 < prompt.size(); ++i) step(prompt[i]);
    std::vector<int64_t> out;
    int64_t nxt = prompt.back();
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < n_new; ++i) {
      nxt = step(nxt).argmax().item<int64_t>();
      out.push_back(nxt);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return {out, s};
  }

 private:
  // u [n, F] = the activations of the up projection of h [n, D], computing only the rows
  // the screen keeps (for any of the n bytes); every other activation is exactly 0 on the
  // dense path too, and gemm_rows sums the kept rows as it sums every row on the other
  // paths: bit for bit.
  // For one byte, rows ends up holding its active neurons, ascending, and their count is
  // returned; for several, -1.
  int64_t screened_up(const Layer& L, const float* h, int64_t n, int32_t* rows, float* u) {
    const int64_t D = D_, F = F_;
    const actsparse::UpScreenRows wq = actsparse::screen_view(L.up_q, L.up_qsum, L.up_factors);
    const float *w = ptr(L.up_w), *b = ptr(L.up_b);
    std::fill(u, u + n * F, 0.0f);
    int64_t m = actsparse::screen_rows(wq, b, h, F, D, thresh_, rows, isa_);
    if (n > 1) {  // the union of the bytes' kept rows
      std::vector<uint8_t> keep(F, 0);
      for (int64_t k = 0; k < m; ++k) keep[rows[k]] = 1;
      for (int64_t j = 1; j < n; ++j) {
        const int64_t mj = actsparse::screen_rows(wq, b, h + j * D, F, D, thresh_, rows, isa_);
        for (int64_t k = 0; k < mj; ++k) keep[rows[k]] = 1;
      }
      m = 0;
      for (int64_t o = 0; o < F; ++o) {
        rows[m] = static_cast<int32_t>(o);
        m += keep[o];
      }
    }
    screen_kept_ += m;
    screen_total_ += F;
    std::vector<float> pre(n * m);  // [n, m]: the kept rows' pre-activations
    gemm_rows(w, b, rows, h, n, m, D, isa_, pre.data());
    for (int64_t j = 0; j < n; ++j)
      for (int64_t k = 0; k < m; ++k)
        u[j * F + rows[k]] = activate(pre[j * m + k], act_kind_, act_shift_, act_beta_);
    if (n > 1) return -1;
    int64_t active = 0;
    for (int64_t k = 0; k < m; ++k) {
      rows[active] = rows[k];
      active += u[rows[k]] != 0.0f;  // as extract_active counts (a NaN is active)
    }
    return active;
  }

  // tmp [n, D] = the FFN down projection of u [n, F]: the only part that differs between
  // paths. Sparse paths count the union of the n rows' active neurons.
  // active: the count of one byte's active neurons already in idx, or -1 to find them.
  void down(const Layer& L, const float* u, int64_t n, int64_t active, int32_t* idx,
            float* tmp) {
    const int64_t D = D_, F = F_;
    const float* db = ptr(L.down_b);
    if (path_ == kDense) {
      gemm_rows(ptr(L.down_w), db, nullptr, u, n, D, F, isa_, tmp);
      return;
    }
    for (int64_t j = 0; j < n; ++j)
      for (int64_t d = 0; d < D; ++d) tmp[j * D + d] = db ? db[d] : 0.0f;
    int64_t nnz = active >= 0 ? active
                  : n == 1    ? actsparse::extract_active(u, F, idx, isa_)
                              : actsparse::union_active(u, n, F, idx);
    union_active_ += nnz;
    union_total_ += F;
    if (path_ != kBlockSparse) {
      if (n == 1) actsparse::down_rows(u, idx, nnz, ptr(L.down_t), D, tmp, isa_);
      else actsparse::down_rows_batch(u, n, F, idx, nnz, ptr(L.down_t), D, tmp, isa_);
      return;
    }
    // The block kernels add whole 16-float blocks, so a row's sum needs D rounded up to
    // 16: when D is not a multiple of 16 each row is summed in a padded scratch and copied
    // back (summing into tmp + j * D would write past row j, and past tmp for the last).
    const int64_t Dp = (D + kBlock - 1) / kBlock * kBlock;
    if (Dp != D) block_y_.assign(static_cast<size_t>(Dp), 0.0f);
    for (int64_t j = 0; j < n; ++j) {  // the block path has no batch kernel: row by row
      const float* uj = u + j * F;
      float* yj = tmp + j * D;
      if (Dp != D) {
        std::copy(yj, yj + D, block_y_.begin());
        std::fill(block_y_.begin() + D, block_y_.end(), 0.0f);
        yj = block_y_.data();
      }
      if (n > 1) nnz = actsparse::extract_active(uj, F, idx, isa_);
      if (isa_ != Isa::kPortable && L.block_masks.numel() > 0)
        actsparse::block_rows_masked(
            uj, idx, 0, nnz, L.row_ptr.data_ptr<int64_t>(),
            reinterpret_cast<const uint64_t*>(L.block_masks.data_ptr<int64_t>()),
            ptr(L.block_vals), yj, isa_);
      else
        actsparse::block_rows(uj, idx, 0, nnz, L.row_ptr.data_ptr<int64_t>(),
                              L.block_col.data_ptr<int32_t>(), ptr(L.block_vals), yj, isa_);
      if (Dp != D) std::copy(block_y_.begin(), block_y_.begin() + D, tmp + j * D);
    }
  }

  static constexpr int64_t kBlock = 16;  // floats per weight block (BlockSparse)
  std::vector<float> block_y_;           // one row's block-path sum, D padded to kBlock

  std::vector<Layer> layers_;
  torch::Tensor wte_, wpe_, lnf_w_, lnf_b_, head_;
  int64_t n_head_, act_kind_;
  float act_shift_, act_beta_;
  bool norm_relu_;
  int64_t path_;
  Isa isa_;
  int64_t D_ = 0, F_ = 0, T_ = 0, pos_ = 0, zeros_ = 0, total_ = 0;
  int64_t union_active_ = 0, union_total_ = 0, screen_kept_ = 0, screen_total_ = 0;
  float thresh_ = 0.0f;
  std::vector<float> kcache_, vcache_;
};

}  // namespace

void bind_decode_engine(pybind11::module& m) {
  pybind11::class_<DecodeEngineCpp>(m, "DecodeEngineCpp")
      .def(pybind11::init<std::vector<std::map<std::string, torch::Tensor>>, torch::Tensor, torch::Tensor,
                          torch::Tensor, torch::Tensor, torch::Tensor, int64_t, int64_t, double,
                          double, bool, int64_t, int64_t>())
      .def("step", &DecodeEngineCpp::step)
      .def("forward", &DecodeEngineCpp::forward)
      .def("rollback", &DecodeEngineCpp::rollback)
      .def("pos", &DecodeEngineCpp::pos)
      .def("union_active", &DecodeEngineCpp::union_active)
      .def("union_total", &DecodeEngineCpp::union_total)
      .def("screen_kept", &DecodeEngineCpp::screen_kept)
      .def("screen_total", &DecodeEngineCpp::screen_total)
      .def("reset", &DecodeEngineCpp::reset)
      .def("generate", &DecodeEngineCpp::generate)
      .def("zeros", &DecodeEngineCpp::zeros)
      .def("total", &DecodeEngineCpp::total);
}
