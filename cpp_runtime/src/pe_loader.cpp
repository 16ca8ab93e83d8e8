// Loading and validation of .pem bytes: every offset, size, count and graph edge is checked
// before any pointer into the bytes is formed.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "pe_format.h"
#include "pe_kernels.h"
#include "pe_runtime.h"

using namespace pe_fmt;

namespace {

bool range_ok(uint64_t off, uint64_t len, uint64_t size) { return off <= size && len <= size - off; }

pe_status check_header(const uint8_t* b, size_t size) {
  if (size < kHeaderSize) return PE_ERR_TRUNCATED;
  if (std::memcmp(b, kMagic, sizeof kMagic) != 0) return PE_ERR_BAD_MAGIC;
  const uint32_t version = rd32(b + kVersion);  // 1 to 3 are read; others refused by name
  if (version < kMinVersion || version > kMaxVersion) return PE_ERR_VERSION;
  if (rd32(b + kHeaderCrc) != crc32(b, kHeaderCrc)) return PE_ERR_CHECKSUM;
  if (rd32(b + kHeaderSizeF) != kHeaderSize) return PE_ERR_HEADER;
  const uint32_t file_size = rd32(b + kFileSize);
  if (file_size > size) return PE_ERR_TRUNCATED;
  if (file_size < kHeaderSize || file_size != size) return PE_ERR_HEADER;
  return PE_OK;
}

pe_status check_layout(const uint8_t* b, pe_model* m) {
  const uint32_t prec = rd32(b + kPrecision), nt = rd32(b + kNTensors), no = rd32(b + kNOps);
  const uint32_t ns = rd32(b + kNSlots), so = rd32(b + kStringsOffset);
  const uint32_t ss = rd32(b + kStringsSize), dofs = rd32(b + kDataOffset);
  const uint32_t nf = rd32(b + kNFeatures), nc = rd32(b + kNClasses);
  if (prec > PE_INT8 || nt == 0 || nt > kMaxTensors || no == 0 || no > kMaxOps) return PE_ERR_HEADER;
  if (ns < 2 || ns > kMaxSlots || nf == 0 || nf > kMaxDim || nc < 2 || nc > kMaxDim) return PE_ERR_HEADER;
  const uint64_t ops_off = uint64_t(kHeaderSize) + uint64_t(nt) * kTensorEntry;
  const uint64_t ops_end = ops_off + uint64_t(no) * kOpEntry;
  // Sections are contiguous: tables, strings, then the data region from the next 64-byte boundary.
  const uint64_t strings_end = uint64_t(so) + ss;
  if (so != ops_end || dofs != (strings_end + kDataAlign - 1) / kDataAlign * kDataAlign) return PE_ERR_HEADER;
  if (dofs > m->size) return PE_ERR_HEADER;
  if (rd32(b + kPayloadCrc) != crc32(b + kHeaderSize, m->size - kHeaderSize)) return PE_ERR_CHECKSUM;
  m->precision = prec; m->n_tensors = nt; m->n_ops = no; m->n_slots = ns;
  m->n_features = nf; m->n_classes = nc;
  m->tensors = b + kHeaderSize;
  m->ops = b + ops_off;
  m->strings = reinterpret_cast<const char*>(b + so);
  m->strings_size = ss;
  return PE_OK;
}

pe_status check_tensors(const pe_model* m) {
  const uint32_t dofs = rd32(m->base + kDataOffset);
  for (uint32_t i = 0; i < m->n_tensors; ++i) {
    const Tensor t = tensor_at(m->tensors, i);
    const uint8_t* e = m->tensors + size_t(i) * kTensorEntry;
    if (rd32(e + 24) != 0 || rd32(e + 28) != 0) return PE_ERR_TENSOR;
    const bool known = t.dtype == kF32 || t.dtype == kI8 || (t.dtype == kI32 && rd32(m->base + kVersion) >= 2);
    if (!known || t.rank < 1 || t.rank > 2) return PE_ERR_TENSOR;
    if (t.dim0 == 0 || t.dim0 > kMaxDim || t.dim1 == 0 || t.dim1 > kMaxDim) return PE_ERR_TENSOR;
    if (t.rank == 1 && t.dim1 != 1) return PE_ERR_TENSOR;
    const uint64_t n = uint64_t(t.dim0) * t.dim1 * (t.dtype == kI8 ? 1u : 4u);
    if (n != t.nbytes || t.offset < dofs || t.offset % kDataAlign) return PE_ERR_TENSOR;
    if (!range_ok(t.offset, t.nbytes, m->size)) return PE_ERR_TENSOR;
  }
  return PE_OK;
}

pe_status check_strings(const pe_model* m) {
  const uint32_t want = m->n_features + m->n_classes;
  if (m->strings_size == 0 || m->strings[m->strings_size - 1] != '\0') return PE_ERR_STRINGS;
  uint32_t count = 0;
  for (uint32_t i = 0; i < m->strings_size; ++i) count += m->strings[i] == '\0';
  return count == want ? PE_OK : PE_ERR_STRINGS;
}

}  // namespace

pe_status pe_validate_graph(pe_model* m);  // pe_graph.cpp

extern "C" {

pe_status pe_model_init(pe_model* model, const void* data, size_t size) {
  if (!model || !data) return PE_ERR_NULL_ARG;
  (void)pe_k::active();  // the kernel level is chosen here, once per process
  std::memset(model, 0, sizeof *model);
  if (reinterpret_cast<uintptr_t>(data) % 4u) return PE_ERR_ALIGNMENT;
  if (size > 0xFFFFFFFFu) return PE_ERR_HEADER;
  const uint8_t* b = static_cast<const uint8_t*>(data);
  model->base = b;
  model->size = size;
  pe_status s = check_header(b, size);
  if (s == PE_OK) s = check_layout(b, model);
  if (s == PE_OK) s = check_tensors(model);
  if (s == PE_OK) s = check_strings(model);
  if (s == PE_OK) s = pe_validate_graph(model);
  if (s != PE_OK) std::memset(model, 0, sizeof *model);
  return s;
}

pe_status pe_model_load_file(pe_model* model, const char* path) {
  if (!model || !path) return PE_ERR_NULL_ARG;
  std::memset(model, 0, sizeof *model);
  FILE* f = std::fopen(path, "rb");
  if (!f) return PE_ERR_IO;
  pe_status s = PE_OK;
  long len = -1;
  if (std::fseek(f, 0, SEEK_END) == 0) len = std::ftell(f);
  if (len < 0 || std::fseek(f, 0, SEEK_SET) != 0) s = PE_ERR_IO;
  else if (len > 0x7FFFFFFFL) s = PE_ERR_HEADER;
  void* buf = nullptr;
  if (s == PE_OK) {
    buf = std::malloc(size_t(len) + 1);  // malloc alignment >= 8 suffices (4 needed)
    if (!buf) s = PE_ERR_NO_MEMORY;
    else if (std::fread(buf, 1, size_t(len), f) != size_t(len)) s = PE_ERR_IO;
  }
  std::fclose(f);
  if (s == PE_OK) s = pe_model_init(model, buf, size_t(len));
  if (s != PE_OK) {
    std::free(buf);
    return s;
  }
  model->owned = buf;
  return PE_OK;
}

void pe_model_release(pe_model* model) {
  if (!model) return;
  std::free(model->owned);
  std::memset(model, 0, sizeof *model);
}

pe_status pe_model_open(const char* path, pe_model** out) {
  if (!out) return PE_ERR_NULL_ARG;
  *out = nullptr;
  pe_model* m = static_cast<pe_model*>(std::calloc(1, sizeof(pe_model)));
  if (!m) return PE_ERR_NO_MEMORY;
  const pe_status s = pe_model_load_file(m, path);
  if (s != PE_OK) {
    std::free(m);
    return s;
  }
  *out = m;
  return PE_OK;
}

void pe_model_close(pe_model* model) {
  pe_model_release(model);
  std::free(model);
}

}  // extern "C"
