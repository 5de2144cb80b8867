// A whole-model decode step for the Llama family in C++ (RMSNorm, RoPE, grouped-query
// attention with a KV cache, gated FFN, tied or untied head; fp32, batch 1): what a user
// of a relufied SmolLM2 would run, so its tokens/s can stand beside llama.cpp's.
//
// Only the FFN differs between paths, and only in which rows it reads:
//   dense    gate, up and down read whole (down as the sparse paths' own sum over the rows
//            of W_down^T [F, D], every neuron in order, zeros included: a zero adds
//            nothing there, so every path gives the dense path's logits bit for bit);
//   sparse   the gate whole, then the up rows and down columns (W_down^T rows) of the
//            neurons whose activation is nonzero;
//   screened the gate's int8 copy proves most neurons zero (up_screen.cpp), only the rest
//            get their fp32 gate row, then as sparse. The screen never guesses: a row it
//            drops is <= the threshold on the dense path too, and the rows it keeps are
//            summed by the same gemv, so the activations are the sparse path's bit for bit.
// Threads split rows (every GEMV) or columns (the sparse down projection), never a sum,
// so 1 and 2 threads give the same bits.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <memory>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "sparse_ffn.h"

// Its own namespace: in the extension's one translation unit (extension.cpp) the decode
// engine's helpers and path names sit beside these.
namespace actsparse::llama {
namespace {

using actsparse::Isa;

enum LlamaPath : int64_t { kDense = 0, kSparse = 1, kScreened = 2 };
// The gate's nonlinearity: SiLU (the pretrained model), ReLU, shifted ReLU max(x - s, 0)
// and FATReLU (x where x > s, else 0).
enum GateAct : int64_t { kSilu = 0, kRelu = 1, kShifted = 2, kFat = 3 };

float gate_act(float x, int64_t kind, float shift) {
  switch (kind) {
    case kRelu: return std::max(x, 0.0f);
    case kShifted: return std::max(x - shift, 0.0f);
    case kFat: return x > shift ? x : 0.0f;
    default: return x / (1.0f + std::exp(-x));
  }
}

struct LlamaLayer {
  torch::Tensor attn_norm, q_w, k_w, v_w, o_w, ffn_norm, gate_w, up_w, down_t;
  torch::Tensor gate_q, gate_qsum, gate_factors;  // the screened path's int8 gate (UpScreen)
};

const std::vector<std::string> kLlamaTensors = {
    "attn_norm", "q_w",    "k_w",    "v_w",       "o_w",         "ffn_norm", "gate_w",
    "up_w",      "down_t", "gate_q", "gate_qsum", "gate_factors"};

LlamaLayer llama_layer_from(const std::map<std::string, torch::Tensor>& named, size_t index) {
  const actsparse::NamedTensors tensors(named, kLlamaTensors, "llama engine", index);
  auto at = [&](const std::string& name) { return tensors.at(name); };
  return LlamaLayer{at("attn_norm"), at("q_w"),    at("k_w"),    at("v_w"),    at("o_w"),
                    at("ffn_norm"),  at("gate_w"), at("up_w"),   at("down_t"), at("gate_q"),
                    at("gate_qsum"), at("gate_factors")};
}

const float* fptr(const torch::Tensor& t) { return t.data_ptr<float>(); }

// The weights, copied into one block of memory backed by transparent huge pages where the
// OS allows (madvise): a decode step streams every weight once, and with 4 KiB pages the
// TLB misses cost a quarter of the bandwidth on our VMs (measured: 9.6 -> 13.4 GB/s for a
// 113 MB GEMV on one core); llama.cpp's mmap'ed weights get the same treatment from the
// page cache. Tensors are views into the block, which lives as long as any of them.
class Arena {
 public:
  explicit Arena(const std::vector<torch::Tensor*>& tensors) {
    constexpr size_t kAlign = 64, kHuge = size_t{2} << 20;
    size_t total = 0;
    for (const torch::Tensor* t : tensors) total += round_up(t->nbytes(), kAlign);
    total = std::max(round_up(total, kHuge), kHuge);
    void* raw = std::aligned_alloc(kHuge, total);
    TORCH_CHECK(raw, "llama engine: cannot allocate ", total, " bytes for the weights");
    block_ = std::shared_ptr<char>(static_cast<char*>(raw), [](char* p) { std::free(p); });
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    huge_pages_ = madvise(raw, total, MADV_HUGEPAGE) == 0;
#endif
    size_t at = 0;
    for (torch::Tensor* t : tensors) {
      char* dst = block_.get() + at;
      std::memcpy(dst, t->data_ptr(), t->nbytes());
      auto keep = block_;
      *t = torch::from_blob(dst, t->sizes(), [keep](void*) {}, t->options());
      at += round_up(t->nbytes(), kAlign);
    }
  }
  bool huge_pages() const { return huge_pages_; }

 private:
  static size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }
  std::shared_ptr<char> block_;
  bool huge_pages_ = false;
};

// [lo, hi) of n split in `parts` near-equal pieces, piece p.
std::pair<int64_t, int64_t> share(int64_t n, int64_t parts, int64_t p) {
  return {n * p / parts, n * (p + 1) / parts};
}

class LlamaEngineCpp {
 public:
  LlamaEngineCpp(std::vector<std::map<std::string, torch::Tensor>> layers, torch::Tensor embed,
                 torch::Tensor final_norm, torch::Tensor head, int64_t n_head, int64_t n_kv_head,
                 double rope_theta, double rms_eps, int64_t act_kind, double act_shift,
                 bool norm_relu, bool up_relu, int64_t max_tokens, int64_t path, int64_t isa,
                 int64_t threads)
      : embed_(embed), final_norm_(final_norm), head_(head), n_head_(n_head),
        n_kv_head_(n_kv_head), rms_eps_(static_cast<float>(rms_eps)), act_kind_(act_kind),
        act_shift_(static_cast<float>(act_shift)), norm_relu_(norm_relu), up_relu_(up_relu),
        T_(max_tokens), path_(path), isa_(actsparse::checked_isa(isa)), threads_(threads) {
    TORCH_CHECK(!layers.empty(), "llama engine: no layers");
    TORCH_CHECK(path_ >= kDense && path_ <= kScreened, "llama engine: unknown path ", path_);
    TORCH_CHECK(act_kind_ >= kSilu && act_kind_ <= kFat, "llama engine: unknown activation ",
                act_kind_);
    TORCH_CHECK(path_ == kDense || act_kind_ != kSilu,
                "llama engine: the sparse and screened paths skip exact zeros; a SiLU gate "
                "has none (run the dense path, or relufy the model)");
    TORCH_CHECK(threads_ >= 1 && threads_ <= 256, "llama engine: threads must be in [1, 256], got ",
                threads_);
    TORCH_CHECK(T_ >= 1, "llama engine: max_tokens must be >= 1, got ", T_);
    TORCH_CHECK(std::isfinite(rope_theta) && rope_theta > 0, "llama engine: rope_theta must be > 0");
    TORCH_CHECK(rms_eps > 0, "llama engine: rms_eps must be > 0");
    auto matrix = [](const torch::Tensor& t, const char* name) {
      TORCH_CHECK(t.defined() && t.scalar_type() == torch::kFloat32 && t.is_contiguous() &&
                      t.dim() == 2,
                  "llama engine: ", name, " must be a contiguous float32 matrix");
    };
    matrix(embed_, "embed");
    matrix(head_, "head");
    V_ = embed_.size(0);
    D_ = embed_.size(1);
    TORCH_CHECK(head_.size(1) == D_, "llama engine: head ", head_.sizes(), " must be [V, ", D_, "]");
    TORCH_CHECK(final_norm_.scalar_type() == torch::kFloat32 && final_norm_.is_contiguous() &&
                    final_norm_.numel() == D_,
                "llama engine: final_norm must be contiguous float32 [", D_, "]");
    TORCH_CHECK(n_kv_head_ >= 1 && n_head_ >= n_kv_head_ && n_head_ % n_kv_head_ == 0,
                "llama engine: n_head ", n_head_, " must be a multiple of n_kv_head ", n_kv_head_);
    for (size_t i = 0; i < layers.size(); ++i) layers_.push_back(llama_layer_from(layers[i], i));
    const LlamaLayer& L0 = layers_[0];
    matrix(L0.q_w, "q_w");
    matrix(L0.gate_w, "gate_w");
    TORCH_CHECK(L0.q_w.size(0) % n_head_ == 0, "llama engine: q_w rows ", L0.q_w.size(0),
                " must split into ", n_head_, " heads");
    hd_ = L0.q_w.size(0) / n_head_;
    TORCH_CHECK(hd_ % 2 == 0, "llama engine: RoPE needs an even head dim, got ", hd_);
    F_ = L0.gate_w.size(0);
    for (size_t i = 0; i < layers_.size(); ++i) check_layer(layers_[i], i);
    const int64_t kv = n_kv_head_ * hd_;
    kcache_.assign(layers_.size() * T_ * kv, 0.0f);
    vcache_.assign(layers_.size() * T_ * kv, 0.0f);
    scores_.resize(T_);
    positions_.resize(T_);
    for (int64_t s = 0; s < T_; ++s) positions_[s] = static_cast<int32_t>(s);
    every_.resize(F_);
    for (int64_t i = 0; i < F_; ++i) every_[i] = static_cast<int32_t>(i);
    std::vector<torch::Tensor*> weights = {&embed_, &final_norm_, &head_};
    for (LlamaLayer& L : layers_)
      for (torch::Tensor* t : {&L.attn_norm, &L.q_w, &L.k_w, &L.v_w, &L.o_w, &L.ffn_norm,
                               &L.gate_w, &L.up_w, &L.down_t, &L.gate_q,
                               &L.gate_qsum, &L.gate_factors})
        if (t->defined() && t->numel() > 0) weights.push_back(t);
    // a tied head (SmolLM2's) is the embedding's storage: copied once
    const bool tied = head_.data_ptr() == embed_.data_ptr() && head_.sizes() == embed_.sizes();
    if (tied) weights.erase(weights.begin() + 2);
    huge_pages_ = Arena(weights).huge_pages();
    if (tied) head_ = embed_;
    inv_freq_.resize(hd_ / 2);  // transformers' default RoPE: theta^(-2i / hd), in float32
    for (int64_t i = 0; i < hd_ / 2; ++i)
      inv_freq_[i] = static_cast<float>(1.0 / std::pow(rope_theta, 2.0 * i / hd_));
  }

  // Every tensor of a layer checked once, here, so the step loop can trust them: a path
  // needs its own layout (the int8 gate for screened) and may leave the others empty.
  void check_layer(const LlamaLayer& L, size_t i) const {
    const int64_t D = D_, F = F_, q = n_head_ * hd_, kv = n_kv_head_ * hd_;
    auto want = [&](const torch::Tensor& t, std::vector<int64_t> shape, const char* name) {
      actsparse::check_f32(t, shape, "llama engine: layer " + std::to_string(i) + " " + name);
    };
    want(L.attn_norm, {D}, "attn_norm");
    want(L.q_w, {q, D}, "q_w");
    want(L.k_w, {kv, D}, "k_w");
    want(L.v_w, {kv, D}, "v_w");
    want(L.o_w, {D, q}, "o_w");
    want(L.ffn_norm, {D}, "ffn_norm");
    want(L.gate_w, {F, D}, "gate_w");
    want(L.up_w, {F, D}, "up_w");
    want(L.down_t, {F, D}, "down_t");
    if (path_ == kScreened) {
      TORCH_CHECK(L.gate_q.defined() && L.gate_q.scalar_type() == torch::kInt8 &&
                      L.gate_q.is_contiguous() && L.gate_q.sizes() == L.gate_w.sizes(),
                  "llama engine: layer ", i, " gate_q must be contiguous int8 [F, D]");
      TORCH_CHECK(L.gate_qsum.defined() && L.gate_qsum.scalar_type() == torch::kInt32 &&
                      L.gate_qsum.is_contiguous() && L.gate_qsum.numel() == F,
                  "llama engine: layer ", i, " gate_qsum must be contiguous int32 [F]");
      want(L.gate_factors, {3, F}, "gate_factors");
    }
  }

  void reset() {
    pos_ = 0;
    steps_ = gate_rows_ = up_rows_ = down_rows_ = zeros_ = 0;
  }

  // Feed one token at the next position; returns its logits [V].
  torch::Tensor step(int64_t token) {
    auto logits = torch::empty({V_}, torch::kFloat32);
    forward(token, logits.data_ptr<float>());
    return logits;
  }

  // Greedy generation in one call: (new tokens, seconds spent generating them). The
  // prompt is fed first, untimed, as llama.cpp's generation rate leaves out its prompt.
  std::pair<std::vector<int64_t>, double> generate(const std::vector<int64_t>& prompt,
                                                   int64_t n_new) {
    TORCH_CHECK(!prompt.empty(), "generate needs a non-empty prompt");
    TORCH_CHECK(n_new >= 0, "generate: n_new must be >= 0, got ", n_new);
    TORCH_CHECK(static_cast<int64_t>(prompt.size()) + n_new <= T_ + 1,
                "generate: prompt (", prompt.size(), ") + new tokens (", n_new,
                ") exceed the engine's ", T_, " positions");
    reset();
    std::vector<float> logits(V_);
    for (size_t i = 0; i + 1 < prompt.size(); ++i) forward(prompt[i], logits.data());
    steps_ = gate_rows_ = up_rows_ = down_rows_ = zeros_ = 0;  // count generation only
    std::vector<int64_t> out;
    int64_t nxt = prompt.back();
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < n_new; ++i) {
      forward(nxt, logits.data());
      nxt = std::max_element(logits.begin(), logits.end()) - logits.begin();
      out.push_back(nxt);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return {out, s};
  }

  int64_t pos() const { return pos_; }
  bool huge_pages() const { return huge_pages_; }
  // Per generated token and layer, summed: FFN rows read of F (gate, up, down) and zero
  // activations.
  std::map<std::string, int64_t> counts() const {
    return {{"steps", steps_},         {"ffn_rows", steps_ * F_ * int64_t(layers_.size())},
            {"gate_rows", gate_rows_}, {"up_rows", up_rows_},
            {"down_rows", down_rows_}, {"zeros", zeros_}};
  }

 private:
  // y[o] = W[rows[o]] . x (every row when rows is null) for o < O, rows split over threads.
  void gemv(const float* W, const int32_t* rows, const float* x, int64_t O, int64_t I,
            float* y) const {
    if (threads_ == 1 || O < 64) return actsparse::gemv(W, rows, x, O, I, y, isa_);
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (int64_t p = 0; p < threads_; ++p) {
      const auto [o0, o1] = share(O, threads_, p);
      if (o1 > o0)
        actsparse::gemv(rows ? W : W + o0 * I, rows ? rows + o0 : nullptr, x, o1 - o0, I, y + o0,
                        isa_);
    }
  }

  // y = RMSNorm(x) * w, then a ReLU where relu (stage 2, after the blocks' norms only).
  void rms_norm(const float* x, const float* w, bool relu, float* y) const {
    float ss = 0.0f;
    for (int64_t d = 0; d < D_; ++d) ss += x[d] * x[d];
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(D_) + rms_eps_);
    for (int64_t d = 0; d < D_; ++d) {
      const float v = w[d] * (x[d] * inv);
      y[d] = relu ? std::max(v, 0.0f) : v;
    }
  }

  // transformers' rotate_half RoPE on each head of v [heads, hd] at position t.
  void rope(float* v, int64_t heads, int64_t t) const {
    const int64_t half = hd_ / 2;
    for (int64_t i = 0; i < half; ++i) {
      const float f = static_cast<float>(t) * inv_freq_[i], c = std::cos(f), s = std::sin(f);
      for (int64_t h = 0; h < heads; ++h) {
        float* r = v + h * hd_;
        const float a = r[i], b = r[i + half];
        r[i] = a * c - b * s;
        r[i + half] = b * c + a * s;
      }
    }
  }

  void forward(int64_t token, float* logits) {
    TORCH_CHECK(token >= 0 && token < V_, "token ", token, " out of range [0, ", V_, ")");
    TORCH_CHECK(pos_ < T_, "context full: the engine holds ", T_, " tokens");
    const int64_t D = D_, qd = n_head_ * hd_, kv = n_kv_head_ * hd_, t = pos_;
    x_.assign(fptr(embed_) + token * D, fptr(embed_) + (token + 1) * D);
    h_.resize(D);
    q_.resize(qd);
    att_.resize(qd);
    k_.resize(kv);
    v_.resize(kv);
    tmp_.resize(D);
    for (size_t l = 0; l < layers_.size(); ++l) {
      const LlamaLayer& L = layers_[l];
      rms_norm(x_.data(), fptr(L.attn_norm), norm_relu_, h_.data());
      gemv(fptr(L.q_w), nullptr, h_.data(), qd, D, q_.data());
      gemv(fptr(L.k_w), nullptr, h_.data(), kv, D, k_.data());
      gemv(fptr(L.v_w), nullptr, h_.data(), kv, D, v_.data());
      rope(q_.data(), n_head_, t);
      rope(k_.data(), n_kv_head_, t);
      attend(l, t);
      gemv(fptr(L.o_w), nullptr, att_.data(), D, qd, tmp_.data());
      for (int64_t d = 0; d < D; ++d) x_[d] += tmp_[d];
      rms_norm(x_.data(), fptr(L.ffn_norm), norm_relu_, h_.data());
      ffn(L, h_.data(), tmp_.data());
      for (int64_t d = 0; d < D; ++d) x_[d] += tmp_[d];
    }
    rms_norm(x_.data(), fptr(final_norm_), false, h_.data());
    gemv(fptr(head_), nullptr, h_.data(), V_, D, logits);
    ++pos_;
    ++steps_;
  }

  // Grouped-query attention of q_ at position t over the cache, into att_; k_ and v_ (this
  // position's, after RoPE) are stored first. The cache is [layer][kv head][T][hd], so each
  // kv head's keys and values are contiguous matrices: the scores are one GEMV over its
  // keys and the output one row-streaming sum over its values, on the kernels' SIMD paths
  // (with the cache as [T][kv heads][hd] they were scalar loops: SmolLM2, dense, one AMD
  // EPYC core, 128 new tokens after 384 decoded at 59.5 tok/s, now 63-64; after 128, 67.5
  // and now 68-69; the softmax's exp is still scalar).
  void attend(size_t l, int64_t t) {
    const int64_t group = n_head_ / n_kv_head_;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd_));
    for (int64_t g = 0; g < n_kv_head_; ++g) {
      float* K = cache(kcache_, l, g);
      float* Vc = cache(vcache_, l, g);
      std::copy(&k_[g * hd_], &k_[(g + 1) * hd_], K + t * hd_);
      std::copy(&v_[g * hd_], &v_[(g + 1) * hd_], Vc + t * hd_);
      for (int64_t hh = g * group; hh < (g + 1) * group; ++hh) {
        float* p = scores_.data();
        actsparse::gemv(K, nullptr, &q_[hh * hd_], t + 1, hd_, p, isa_);
        float mx = -INFINITY;
        for (int64_t s = 0; s <= t; ++s) mx = std::max(mx, p[s] *= scale);
        float sum = 0.0f;
        for (int64_t s = 0; s <= t; ++s) sum += (p[s] = std::exp(p[s] - mx));
        const float inv = 1.0f / sum;
        for (int64_t s = 0; s <= t; ++s) p[s] *= inv;
        float* o = &att_[hh * hd_];
        std::fill(o, o + hd_, 0.0f);
        actsparse::down_rows(p, positions_.data(), t + 1, Vc, hd_, o, isa_);
      }
    }
  }

  float* cache(std::vector<float>& c, size_t l, int64_t g) {
    return c.data() + (static_cast<int64_t>(l) * n_kv_head_ + g) * T_ * hd_;
  }

  // y [D] = down(act(gate(h)) * up(h)): the only part that differs between paths.
  void ffn(const LlamaLayer& L, const float* h, float* y) {
    const int64_t D = D_, F = F_;
    g_.resize(F);
    u_.resize(F);
    a_.assign(F, 0.0f);
    idx_.resize(F);
    const float* gw = fptr(L.gate_w);
    int64_t m = F;  // the gate rows computed
    if (path_ == kScreened) {
      m = screen(L, h);
      gemv(gw, idx_.data(), h, m, D, g_.data());  // g_[k]: row idx_[k]
    } else {
      gemv(gw, nullptr, h, F, D, g_.data());
    }
    gate_rows_ += m;
    if (path_ == kDense) {
      gemv(fptr(L.up_w), nullptr, h, F, D, u_.data());
      for (int64_t i = 0; i < F; ++i) {
        const float up = up_relu_ ? std::max(u_[i], 0.0f) : u_[i];
        a_[i] = gate_act(g_[i], act_kind_, act_shift_) * up;
        zeros_ += a_[i] == 0.0f;
      }
      up_rows_ += F;
      down_rows_ += F;
      return down(L, a_.data(), every_.data(), F, y);
    }
    // the active neurons: nonzero gate activation, in ascending order
    int64_t n = 0;
    for (int64_t k = 0; k < m; ++k) {
      const int64_t i = path_ == kScreened ? idx_[k] : k;
      const float ga = gate_act(g_[k], act_kind_, act_shift_);
      if (ga != 0.0f) {  // a NaN is active, as on the dense path
        g_[n] = ga;
        idx_[n++] = static_cast<int32_t>(i);
      }
    }
    gemv(fptr(L.up_w), idx_.data(), h, n, D, u_.data());
    up_rows_ += n;
    int64_t nnz = 0;
    for (int64_t k = 0; k < n; ++k) {
      const float up = up_relu_ ? std::max(u_[k], 0.0f) : u_[k];
      const float v = g_[k] * up;
      if (v != 0.0f) {  // dReLU: a neuron is zero where its up output is too
        a_[idx_[k]] = v;
        idx_[nnz++] = idx_[k];
      }
    }
    zeros_ += F - nnz;
    down_rows_ += nnz;
    down(L, a_.data(), idx_.data(), nnz, y);
  }

  // y [D] = the sum of a[i] * W_down^T[i] over the n neurons in rows (ascending), in that
  // order: every path's down projection, the dense path's over every neuron. Threads split
  // the D outputs, never a sum.
  void down(const LlamaLayer& L, const float* a, const int32_t* rows, int64_t n, float* y) {
    const int64_t D = D_, F = F_;
    std::fill(y, y + D, 0.0f);
    const float* wt = fptr(L.down_t);
    if (threads_ == 1) return actsparse::down_rows(a, rows, n, wt, D, y, isa_);
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (int64_t p = 0; p < threads_; ++p) {
      const auto [d0, d1] = share(D, threads_, p);
      if (d1 > d0) actsparse::down_rows_batch_range(a, 1, F, rows, n, wt, D, d0, d1, y, isa_);
    }
  }

  // The gate rows whose pre-activation may exceed the threshold, into idx_ (ascending),
  // rows split over threads; returns their count.
  int64_t screen(const LlamaLayer& L, const float* h) {
    const int64_t D = D_, F = F_;
    const float thresh = act_kind_ == kRelu ? 0.0f : act_shift_;
    const actsparse::UpScreenRows w =
        actsparse::screen_view(L.gate_q, L.gate_qsum, L.gate_factors);
    auto part = [&](int64_t o0, int64_t o1, int32_t* out) {
      const actsparse::UpScreenRows wp{w.q + o0 * D, w.qsum + o0, w.scale + o0, w.c1 + o0,
                                       w.c2 + o0};
      const int64_t c = actsparse::screen_rows(wp, nullptr, h, o1 - o0, D, thresh, out, isa_);
      for (int64_t k = 0; k < c; ++k) out[k] += static_cast<int32_t>(o0);
      return c;
    };
    if (threads_ == 1) return part(0, F, idx_.data());
    cand_.resize(F);
    counts_.assign(threads_, 0);
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (int64_t p = 0; p < threads_; ++p) {
      const auto [o0, o1] = share(F, threads_, p);
      counts_[p] = o1 > o0 ? part(o0, o1, cand_.data() + o0) : 0;
    }
    int64_t m = 0;
    for (int64_t p = 0; p < threads_; ++p) {
      const int64_t o0 = share(F, threads_, p).first;
      std::copy(cand_.begin() + o0, cand_.begin() + o0 + counts_[p], idx_.begin() + m);
      m += counts_[p];
    }
    return m;
  }

  std::vector<LlamaLayer> layers_;
  torch::Tensor embed_, final_norm_, head_;
  int64_t n_head_, n_kv_head_;
  float rms_eps_;
  int64_t act_kind_;
  float act_shift_;
  bool norm_relu_, up_relu_;
  int64_t T_, path_;
  Isa isa_;
  int64_t threads_;
  bool huge_pages_ = false;
  int64_t V_ = 0, D_ = 0, F_ = 0, hd_ = 0, pos_ = 0;
  int64_t steps_ = 0, gate_rows_ = 0, up_rows_ = 0, down_rows_ = 0, zeros_ = 0;
  std::vector<float> inv_freq_, kcache_, vcache_;
  std::vector<float> x_, h_, q_, k_, v_, att_, tmp_, scores_, g_, u_, a_;
  // positions_: 0 .. T-1, the rows of a cache; every_: 0 .. F-1, the dense path's neurons
  std::vector<int32_t> idx_, cand_, positions_, every_;
  std::vector<int64_t> counts_;
};

}  // namespace
}  // namespace actsparse::llama

void bind_llama_engine(pybind11::module& m) {
  using actsparse::llama::LlamaEngineCpp;
  pybind11::class_<LlamaEngineCpp>(m, "LlamaEngineCpp")
      .def(pybind11::init<std::vector<std::map<std::string, torch::Tensor>>, torch::Tensor,
                          torch::Tensor, torch::Tensor, int64_t, int64_t, double, double, int64_t,
                          double, bool, bool, int64_t, int64_t, int64_t, int64_t>())
      .def("step", &LlamaEngineCpp::step)
      .def("generate", &LlamaEngineCpp::generate)
      .def("reset", &LlamaEngineCpp::reset)
      .def("pos", &LlamaEngineCpp::pos)
      .def("huge_pages", &LlamaEngineCpp::huge_pages)
      .def("counts", &LlamaEngineCpp::counts);
}
