// A whole-model decode step in C++ (batch 1, KV cache, fp32): one call per byte, so the
// FFN's share of a step is what it is in an engine, not hidden under per-op Python
// overhead. The FFN down projection runs densely (row dot products over W_down [D, F]),
// sparsely (column skipping over W_down^T), or block-sparsely (1x16 blocks); everything
// else is identical between the paths.

#include <torch/extension.h>

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <vector>

#include "sparse_ffn.h"

namespace {

struct Layer {
  torch::Tensor ln1_w, ln1_b, qkv_w, qkv_b, proj_w, proj_b, ln2_w, ln2_b, up_w, up_b, down_w,
      down_b, down_t;
  torch::Tensor row_ptr, block_col, block_vals;
};

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

// y[o] = W[o, :] . x + b[o] for W [O, I] row-major.
void gemv(const float* W, const float* b, const float* x, int64_t O, int64_t I, bool avx,
          float* y) {
  for (int64_t o = 0; o < O; ++o)
    y[o] = actsparse::dot(W + o * I, x, I, avx) + (b ? b[o] : 0.0f);
}

float activate(float x, int64_t kind, float shift, float beta) {
  switch (kind) {
    case 0: return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));  // gelu
    case 1: return std::max(x, 0.0f);                                       // relu
    case 2: return std::max(x - shift, 0.0f);                               // shifted relu
    default:                                                                 // x sigmoid(beta x)
      return std::isinf(beta) ? std::max(x, 0.0f) : x / (1.0f + std::exp(-beta * x));
  }
}

}  // namespace

class DecodeEngineCpp {
 public:
  DecodeEngineCpp(std::vector<std::vector<torch::Tensor>> layers, torch::Tensor wte,
                  torch::Tensor wpe, torch::Tensor lnf_w, torch::Tensor lnf_b, torch::Tensor head,
                  int64_t n_head, int64_t act_kind, double act_shift, double act_beta,
                  bool norm_relu, int64_t path, bool portable)
      : wte_(wte.contiguous()), wpe_(wpe.contiguous()), lnf_w_(lnf_w), lnf_b_(lnf_b),
        head_(head.contiguous()), n_head_(n_head), act_kind_(act_kind),
        act_shift_(static_cast<float>(act_shift)), act_beta_(static_cast<float>(act_beta)),
        norm_relu_(norm_relu), path_(path), avx_(!portable && actsparse::avx512_available()) {
    for (auto& t : layers) {
      TORCH_CHECK(t.size() == 16, "each layer needs 16 tensors");
      layers_.push_back(Layer{t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10],
                              t[11], t[12], t[13], t[14], t[15]});
    }
    D_ = wte_.size(1);
    F_ = layers_[0].up_w.size(0);
    T_ = wpe_.size(0);
    kcache_.assign(layers_.size() * T_ * D_, 0.0f);
    vcache_.assign(layers_.size() * T_ * D_, 0.0f);
  }

  void reset() {
    pos_ = 0;
    zeros_ = 0;
    total_ = 0;
  }
  int64_t zeros() const { return zeros_; }
  int64_t total() const { return total_; }

  torch::Tensor step(int64_t byte) {
    TORCH_CHECK(pos_ < T_, "context full: the engine holds ", T_, " bytes");
    TORCH_CHECK(byte >= 0 && byte < wte_.size(0), "byte out of range");
    const int64_t D = D_, F = F_, hd = D / n_head_, t = pos_;
    std::vector<float> x(D), h(D), qkv(3 * D), att(D), tmp(D), u(F), scores(t + 1);
    std::vector<int32_t> idx(F);
    const float *e = wte_.data_ptr<float>() + byte * D, *p = wpe_.data_ptr<float>() + t * D;
    for (int64_t d = 0; d < D; ++d) x[d] = e[d] + p[d];
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    for (size_t l = 0; l < layers_.size(); ++l) {
      const Layer& L = layers_[l];
      layer_norm(x.data(), ptr(L.ln1_w), ptr(L.ln1_b), D, norm_relu_, h.data());
      gemv(ptr(L.qkv_w), ptr(L.qkv_b), h.data(), 3 * D, D, avx_, qkv.data());
      float* K = kcache_.data() + (l * T_) * D;
      float* V = vcache_.data() + (l * T_) * D;
      std::copy(qkv.begin() + D, qkv.begin() + 2 * D, K + t * D);
      std::copy(qkv.begin() + 2 * D, qkv.end(), V + t * D);
      for (int64_t hh = 0; hh < n_head_; ++hh) {
        const float* q = qkv.data() + hh * hd;
        float mx = -INFINITY;
        for (int64_t s = 0; s <= t; ++s) {
          scores[s] = actsparse::dot(K + s * D + hh * hd, q, hd, avx_) * scale;
          mx = std::max(mx, scores[s]);
        }
        float sum = 0.0f;
        for (int64_t s = 0; s <= t; ++s) sum += (scores[s] = std::exp(scores[s] - mx));
        float* out = att.data() + hh * hd;
        std::fill(out, out + hd, 0.0f);
        for (int64_t s = 0; s <= t; ++s) {
          const float w = scores[s] / sum;
          const float* v = V + s * D + hh * hd;
          for (int64_t j = 0; j < hd; ++j) out[j] += w * v[j];
        }
      }
      gemv(ptr(L.proj_w), ptr(L.proj_b), att.data(), D, D, avx_, tmp.data());
      for (int64_t d = 0; d < D; ++d) x[d] += tmp[d];
      layer_norm(x.data(), ptr(L.ln2_w), ptr(L.ln2_b), D, norm_relu_, h.data());
      gemv(ptr(L.up_w), ptr(L.up_b), h.data(), F, D, avx_, u.data());
      for (int64_t f = 0; f < F; ++f) u[f] = activate(u[f], act_kind_, act_shift_, act_beta_);
      // the FFN down projection: the only part that differs between paths
      const float* db = ptr(L.down_b);
      if (path_ == 0) {
        gemv(ptr(L.down_w), db, u.data(), D, F, avx_, tmp.data());
      } else {
        const int64_t nnz = actsparse::extract_active(u.data(), F, idx.data(), avx_);
        zeros_ += F - nnz;
        for (int64_t d = 0; d < D; ++d) tmp[d] = db ? db[d] : 0.0f;
        if (path_ == 1) {
          actsparse::down_rows(u.data(), idx.data(), nnz, ptr(L.down_t), D, tmp.data(), avx_);
        } else {
          actsparse::block_rows(u.data(), idx.data(), 0, nnz, L.row_ptr.data_ptr<int64_t>(),
                                L.block_col.data_ptr<int32_t>(), ptr(L.block_vals),
                                tmp.data(), avx_);
        }
      }
      if (path_ == 0) {
        for (int64_t f = 0; f < F; ++f) zeros_ += (u[f] == 0.0f);
      }
      total_ += F;
      for (int64_t d = 0; d < D; ++d) x[d] += tmp[d];
    }
    ++pos_;
    layer_norm(x.data(), ptr(lnf_w_), ptr(lnf_b_), D, false, h.data());
    auto logits = torch::empty({head_.size(0)}, torch::kFloat32);
    gemv(ptr(head_), nullptr, h.data(), head_.size(0), D, avx_, logits.data_ptr<float>());
    return logits;
  }

  // Greedy generation in one call: (new bytes, seconds spent generating them).
  std::pair<std::vector<int64_t>, double> generate(std::vector<int64_t> prompt, int64_t n_new) {
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
  std::vector<Layer> layers_;
  torch::Tensor wte_, wpe_, lnf_w_, lnf_b_, head_;
  int64_t n_head_, act_kind_;
  float act_shift_, act_beta_;
  bool norm_relu_;
  int64_t path_;
  bool avx_;
  int64_t D_ = 0, F_ = 0, T_ = 0, pos_ = 0, zeros_ = 0, total_ = 0;
  std::vector<float> kcache_, vcache_;
};

void bind_decode_engine(pybind11::module& m) {
  pybind11::class_<DecodeEngineCpp>(m, "DecodeEngineCpp")
      .def(pybind11::init<std::vector<std::vector<torch::Tensor>>, torch::Tensor, torch::Tensor,
                          torch::Tensor, torch::Tensor, torch::Tensor, int64_t, int64_t, double,
                          double, bool, int64_t, bool>())
      .def("step", &DecodeEngineCpp::step)
      .def("reset", &DecodeEngineCpp::reset)
      .def("generate", &DecodeEngineCpp::generate)
      .def("zeros", &DecodeEngineCpp::zeros)
      .def("total", &DecodeEngineCpp::total);
}
