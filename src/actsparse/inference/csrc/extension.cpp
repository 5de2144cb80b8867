// The Python module, and the one translation unit that holds torch's headers.
//
// The torch-facing files are compiled together, as one unit, because torch's and pybind11's
// headers (sparse_ffn.h) take 16-20 s of compiler time in every unit that includes them:
// more than all of our own code. As four units a build cost over twice the compiler CPU
// it costs as one (results/xeon/compile_cpu.tsv). Every build pays that: a user's first
// run, each CI run (three builds: the default, the sanitized and the portable-only one),
// and each edit of a kernel. The AVX2 file includes no torch header and stays a unit of
// its own.
//
// So the files below are not compiled alone: names private to one of them (an anonymous
// namespace) must not collide with another's, or this unit does not compile.

#include "sparse_ffn.cpp"
#include "decode_engine.cpp"
#include "llama_engine.cpp"
#include "up_screen.cpp"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "actsparse sparse FFN kernels (fp32, CPU)";
  m.def("sparse_down", &sparse_down, "column-skipping GEMV: Wt^T a + bias");
  m.def("read_rows", &read_rows, "the read ceiling of row skipping: active rows summed, nothing written");
  m.def("sparse_down_batch", &sparse_down_batch, "batch (<= 8) over the union of active rows");
  m.def("block_sparse_down", &block_sparse_down, "1x16-block weights x sparse activations");
  m.def("up_indexed", &up_indexed, "up projection restricted to an index set");
  m.def("isa_supported", [](int64_t code) {
    return code >= 0 && code <= 2 && actsparse::isa_supported(static_cast<actsparse::Isa>(code));
  }, "whether this CPU and build run the kernels' ISA code (0 portable, 1 avx2, 2 avx512)");
  m.def("row_prefetch", &actsparse::row_prefetch,
        "whether the AVX-512 row streaming prefetches rows ahead (per CPU vendor; ACTSPARSE_ROW_PREFETCH)");
  m.def("check_block_sparse", &actsparse::check_block_sparse,
        "every row of a block-sparse matrix checked: row_ptr, block_col, vals, masks");
  bind_decode_engine(m);
  bind_up_screen(m);
  bind_llama_engine(m);
}
