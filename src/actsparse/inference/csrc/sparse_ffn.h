// The kernel building blocks shared by the sparse FFN ops and the decode engine.
// Their torch-facing half: tensor views and checks (kernel_core.h holds the kernels).
#pragma once

// torch's tensor API and pybind11 with torch's tensor casters, not <torch/extension.h>: that
// also parses torch's nn, optim, data and jit headers, 15-16 s more compiler time per file
// (results/epyc_zen4/compile_cpu.tsv). Even so they cost 16-20 s a translation unit, so the
// files that include this one are compiled as one unit (extension.cpp). Only kernel_core.h's
// kernels go without torch (the AVX2 file includes nothing else).
#include <torch/csrc/utils/pybind.h>
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kernel_core.h"

namespace actsparse {

// A view of UpScreen's tensors: q [O, D] int8, qsum [O] int32, factors [3, O] float32
// (scale, c1, c2).
UpScreenRows screen_view(const torch::Tensor& q, const torch::Tensor& qsum,
                         const torch::Tensor& factors);
// Rejects row masks that are not empty or contiguous int64 [F] for D <= 1024 (64 blocks):
// the masked kernels read a mask per row and add at the block its bits name.
void check_block_masks(const torch::Tensor& masks, int64_t F, int64_t D);
// A block-sparse matrix's layout, in O(1): dtypes, row_ptr [F + 1] from 0 to nnzb, vals
// [nnzb, 16], the masks.
void check_block_layout(const torch::Tensor& row_ptr, const torch::Tensor& block_col,
                        const torch::Tensor& vals, const torch::Tensor& masks, int64_t F,
                        int64_t D);
// Every row of a block-sparse matrix [F, D] checked once (O(F + nnzb)): a clear error, never
// a read out of bounds in a kernel.
void check_block_sparse(const torch::Tensor& row_ptr, const torch::Tensor& block_col,
                        const torch::Tensor& vals, const torch::Tensor& masks, int64_t F,
                        int64_t D);

// A layer's tensors as an engine receives them from Python, a dict keyed by name: every
// name must be one the engine knows (`known`) and every one it asks for must be there, so a
// tensor can never land in the wrong slot. Errors name the engine (`who`), layer and tensor.
class NamedTensors {
 public:
  NamedTensors(const std::map<std::string, torch::Tensor>& named,
               const std::vector<std::string>& known, std::string who, size_t layer);
  const torch::Tensor& at(const std::string& name) const;

 private:
  const std::map<std::string, torch::Tensor>& named_;
  std::string who_;
  size_t layer_;
};
// t is defined, contiguous float32 and exactly `shape`, or an error beginning with `what`.
void check_f32(const torch::Tensor& t, c10::IntArrayRef shape, const std::string& what);

}  // namespace actsparse
