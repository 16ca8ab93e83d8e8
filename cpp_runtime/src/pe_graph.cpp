// Graph validation (op kinds, slot widths, tensor shapes and values) and the run loop over
// caller-owned arena tiles.
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "pe_format.h"
#include "pe_kernels.h"
#include "pe_runtime.h"

using namespace pe_fmt;

namespace {

bool tensor_is(const pe_model* m, uint32_t idx, uint32_t dtype, uint32_t d0, uint32_t d1) {
  if (idx >= m->n_tensors) return false;
  const Tensor t = tensor_at(m->tensors, idx);
  return t.dtype == dtype && t.dim0 == d0 && t.dim1 == d1;
}

const float* f32(const pe_model* m, uint32_t idx) {
  return reinterpret_cast<const float*>(m->base + tensor_at(m->tensors, idx).offset);
}

bool all_finite(const float* p, uint32_t n, bool positive) {
  for (uint32_t i = 0; i < n; ++i) {
    float v;
    std::memcpy(&v, p + i, 4);
    if (!std::isfinite(v) || (positive && !(v > 0.0f))) return false;
  }
  return true;
}

bool dense_is_i8(const pe_model* m, const Op& op) {  // per op: the weight tensor's dtype decides
  return tensor_at(m->tensors, op.t0).dtype == kI8;
}

uint32_t file_version(const pe_model* m) { return rd32(m->base + kVersion); }
uint32_t round4(uint32_t n) { return (n + 3u) & ~3u; }

const int32_t* i32(const pe_model* m, uint32_t idx) {
  return reinterpret_cast<const int32_t*>(m->base + tensor_at(m->tensors, idx).offset);
}

// Static int8 DENSE (version 2): int8 W [round4(in), out] in groups of four inputs, int32 bias
// [out] whose sums cannot overflow int32, then (M, n) pairs int32 [out, 2] (RELU_U8) or float
// dequantisation scales [out]. Version 3: IN16 (an int16 input slot, the sums' bound with 32767),
// OUT16 (with IN16 and RELU_U8: an int16 output slot).
bool check_dense_static(const pe_model* m, const Op& op, pe_status* why) {
  if (file_version(m) < 2 || m->precision != PE_INT8) return false;
  const uint32_t wide = file_version(m) >= 3 ? uint32_t(kIn16 | kOut16) : 0u;
  if (op.flags & ~uint32_t(kAccumulate | kStatic | kReluU8 | wide)) return false;  // SPLIT or unknown bits
  const bool relu_u8 = op.flags & kReluU8, in16 = op.flags & kIn16;
  if (relu_u8 && ((op.flags & kAccumulate) || op.dst == 1)) return false;
  if ((op.flags & kOut16) && !(in16 && relu_u8)) return false;
  if (!tensor_is(m, op.t0, kI8, round4(op.in_dim), op.out_dim) || tensor_at(m->tensors, op.t0).rank != 2)
    return false;
  if (!tensor_is(m, op.t1, kI32, op.out_dim, 1)) return false;
  if (!tensor_is(m, op.t2, relu_u8 ? kI32 : kF32, op.out_dim, relu_u8 ? 2 : 1)) return false;
  *why = PE_ERR_VALUE;
  const int64_t max_sum = int64_t(round4(op.in_dim)) * (in16 ? 32767 : 255) * 127;
  const int32_t* b = i32(m, op.t1);
  for (uint32_t o = 0; o < op.out_dim; ++o) {
    int32_t v;
    std::memcpy(&v, b + o, 4);
    if ((v < 0 ? -int64_t(v) : int64_t(v)) + max_sum > INT32_MAX) return false;
  }
  if (!relu_u8) return all_finite(f32(m, op.t2), op.out_dim, true);
  const int32_t* q = i32(m, op.t2);
  for (uint32_t o = 0; o < op.out_dim; ++o) {
    int32_t mult, shift;
    std::memcpy(&mult, q + 2 * o, 4);
    std::memcpy(&shift, q + 2 * o + 1, 4);
    if (mult < 1 || shift < 1 || shift > 62) return false;
  }
  return true;
}

// fp32 files: every DENSE has fp32 weights. int8 files: each DENSE has either int8 weights plus
// a per-channel scale tensor, or fp32 weights and no scale (a layer kept in fp32), or (version 2)
// the static int8 form.
bool check_dense(const pe_model* m, const Op& op, pe_status* why) {
  if (op.src == op.dst || op.t0 >= m->n_tensors) return false;
  if (op.flags & kStatic) return check_dense_static(m, op, why);
  const bool i8 = dense_is_i8(m, op);
  if (i8 && m->precision != PE_INT8) return false;
  if (!tensor_is(m, op.t0, i8 ? kI8 : kF32, op.in_dim, op.out_dim)) return false;
  if (op.t1 != kNone && !tensor_is(m, op.t1, kF32, op.out_dim, 1)) return false;
  if (i8) {
    if (!tensor_is(m, op.t2, kF32, op.out_dim, 1)) return false;
    if (!all_finite(f32(m, op.t2), op.out_dim, true)) return false;
  } else if (op.t2 != kNone) {
    return false;
  }
  // SPLIT (the two-pass activation split) only on an int8 DENSE; any other bit is unknown.
  const uint32_t known = kAccumulate | (i8 ? uint32_t(kSplitActivations) : 0u);
  return (op.flags & ~known) == 0;
}

bool check_op(const pe_model* m, const Op& op, pe_status* why) {
  *why = PE_ERR_GRAPH;
  uint32_t fbits;
  std::memcpy(&fbits, &op.fparam, 4);
  if (op.kind != kLayerNorm && fbits != 0) return false;  // unused parameter must be zero
  const bool same = op.in_dim == op.out_dim;
  switch (op.kind) {
    case kStandardize:
      if (!same || op.src == op.dst || op.flags || op.t2 != kNone) return false;
      if (!tensor_is(m, op.t0, kF32, op.in_dim, 1) || !tensor_is(m, op.t1, kF32, op.in_dim, 1)) return false;
      *why = PE_ERR_VALUE;
      return all_finite(f32(m, op.t0), op.in_dim, false) && all_finite(f32(m, op.t1), op.in_dim, true);
    case kDense:
      return check_dense(m, op, why);
    case kLayerNorm:
      if (!same || op.flags || op.t2 != kNone) return false;
      if (!tensor_is(m, op.t0, kF32, op.in_dim, 1) || !tensor_is(m, op.t1, kF32, op.in_dim, 1)) return false;
      *why = PE_ERR_VALUE;
      return std::isfinite(op.fparam) && op.fparam > 0.0f;
    case kRelu:
    case kGelu:
      return same && !op.flags && op.t0 == kNone && op.t1 == kNone && op.t2 == kNone;
    case kQuantize:
      if (file_version(m) < 2 || !same || op.src == op.dst || op.dst == 1) return false;
      if (op.flags & ~(file_version(m) >= 3 ? kQuant16 : 0u)) return false;  // version 3: int16 output
      if (op.t1 != kNone || op.t2 != kNone || !tensor_is(m, op.t0, kF32, op.in_dim, 1)) return false;
      *why = PE_ERR_VALUE;
      return all_finite(f32(m, op.t0), op.in_dim, true);
    default:
      return false;
  }
}

// What a slot holds: float, uint8 or (version 3) int16 activations. Integer slots are written by
// QUANTIZE or a RELU_U8 static DENSE and read only by static DENSE ops of the same width (IN16).
enum SlotKind : uint8_t { kSlotF32 = 0, kSlotU8 = 1, kSlotS16 = 2 };
SlotKind reads_kind(const Op& op) {
  if (op.kind != kDense || !(op.flags & kStatic)) return kSlotF32;
  return (op.flags & kIn16) ? kSlotS16 : kSlotU8;
}
SlotKind writes_kind(const Op& op) {
  if (op.kind == kQuantize) return (op.flags & kQuant16) ? kSlotS16 : kSlotU8;
  if (op.kind == kDense && (op.flags & kStatic) && (op.flags & kReluU8)) return (op.flags & kOut16) ? kSlotS16 : kSlotU8;
  return kSlotF32;
}

}  // namespace

pe_status pe_validate_graph(pe_model* m) {
  uint32_t width[kMaxSlots] = {0};
  SlotKind kind[kMaxSlots] = {};
  width[0] = m->n_features;
  uint32_t max_width = m->n_features > m->n_classes ? m->n_features : m->n_classes;
  uint32_t top_slot = 1, n_i8 = 0;
  for (uint32_t i = 0; i < m->n_ops; ++i) {
    const Op op = op_at(m->ops, i);
    if (op.src >= m->n_slots || op.dst >= m->n_slots || op.dst == 0) return PE_ERR_GRAPH;
    if (op.in_dim == 0 || op.in_dim > kMaxDim || op.out_dim == 0 || op.out_dim > kMaxDim) return PE_ERR_GRAPH;
    if (width[op.src] != op.in_dim || kind[op.src] != reads_kind(op)) return PE_ERR_GRAPH;
    const bool acc = op.kind == kDense && (op.flags & kAccumulate);
    if (acc && (width[op.dst] != op.out_dim || kind[op.dst] != kSlotF32)) return PE_ERR_GRAPH;
    if (op.dst == 1 && op.out_dim != m->n_classes) return PE_ERR_GRAPH;
    pe_status why;
    if (!check_op(m, op, &why)) return why;
    n_i8 += op.kind == kDense && dense_is_i8(m, op);
    width[op.dst] = op.out_dim;
    kind[op.dst] = writes_kind(op);
    top_slot = op.dst > top_slot ? op.dst : top_slot;
    if (op.out_dim > max_width) max_width = op.out_dim;
  }
  if (width[1] != m->n_classes) return PE_ERR_GRAPH;
  if ((m->precision == PE_INT8) != (n_i8 > 0)) return PE_ERR_HEADER;  // int8 iff an int8 DENSE
  if (top_slot + 1 != m->n_slots) return PE_ERR_HEADER;  // every scratch slot is written
  m->max_width = max_width;
  return PE_OK;
}

namespace {

constexpr size_t kAlign = PE_ARENA_ALIGN;
size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }
size_t slot_stride(const pe_model* m) { return round_up(m->max_width, 16); }
bool has_split(const pe_model* m) {  // some DENSE has the SPLIT flag (validated: int8 DENSE only)
  for (uint32_t i = 0; i < m->n_ops; ++i) {
    const uint8_t* e = m->ops + size_t(i) * kOpEntry;
    if (rd32(e) == kDense && (rd32(e + 36) & kSplitActivations)) return true;
  }
  return false;
}
// Byte offsets of the fixed (per-call, not per-row) buffers at the start of the arena: int8 files
// have an int8 row buffer + int32 accumulators; files with a SPLIT DENSE also the second pass's
// int8 row and accumulators and the float residual row. fp32 files: none.
struct Fixed {
  size_t q1, acc1, q2, acc2, res, total;
};
Fixed fixed_layout(const pe_model* m) {
  Fixed f{};
  if (m->precision != PE_INT8) return f;
  const size_t w8 = round_up(m->max_width, kAlign), w32 = round_up(size_t(m->max_width) * 4, kAlign);
  f.acc1 = w8;
  f.total = w8 + w32;
  if (has_split(m)) {
    f.q2 = f.total;
    f.acc2 = f.q2 + w8;
    f.res = f.acc2 + w32;
    f.total = f.res + w32;
  }
  return f;
}
size_t row_bytes(const pe_model* m) { return size_t(m->n_slots - 2) * slot_stride(m) * sizeof(float); }

struct Tile {
  const float* x;
  float* logits;
  float* scratch;
  size_t rows, stride;
  int8_t* qbuf;
  int32_t* acc;
  int8_t* qbuf2;  // the SPLIT buffers (null when no DENSE has the flag)
  int32_t* acc2;
  float* res;
};

struct Slots {  // one op's source and destination in this tile (strides in elements / bytes)
  const void* src;
  void* dst;
  size_t ss, ds;
};

Slots slots_of(const pe_model* m, const Op& op, const Tile& t) {
  const float* src = op.src == 0 ? t.x : op.src == 1 ? t.logits : t.scratch + (op.src - 2) * t.rows * t.stride;
  float* dst = op.dst == 1 ? t.logits : t.scratch + (op.dst - 2) * t.rows * t.stride;
  const size_t ss = op.src == 0 ? m->n_features : op.src == 1 ? m->n_classes : t.stride;
  const size_t ds = op.dst == 1 ? m->n_classes : t.stride;
  return {src, dst, ss, ds};
}

using OpFn = void (*)(const pe_model*, const Op&, const Tile&, const Slots&, const pe_k::KernelTable&);

void run_standardize(const pe_model* m, const Op& op, const Tile& t, const Slots& s, const pe_k::KernelTable& k) {
  k.standardize(t.rows, op.in_dim, static_cast<const float*>(s.src), s.ss, static_cast<float*>(s.dst), s.ds,
                f32(m, op.t0), f32(m, op.t1));
}

void run_dense(const pe_model* m, const Op& op, const Tile& t, const Slots& s, const pe_k::KernelTable& k) {
  const bool acc = op.flags & kAccumulate;
  const int8_t* w8 = reinterpret_cast<const int8_t*>(m->base + tensor_at(m->tensors, op.t0).offset);
  if (op.flags & kIn16) {  // int16 input slot (2 elements per float element); int16 or uint8 output
    const bool rq = op.flags & kReluU8, out16 = op.flags & kOut16;
    k.dense_q16(t.rows, op.in_dim, op.out_dim, static_cast<const int16_t*>(s.src), s.ss * 2, w8, i32(m, op.t1),
                rq ? i32(m, op.t2) : nullptr, rq ? nullptr : f32(m, op.t2), s.dst,
                rq ? s.ds * (out16 ? 2 : 4) : s.ds, acc, out16);
    return;
  }
  if (op.flags & kStatic) {  // uint8 slots: strides in bytes (4 per float element of the slot)
    const bool u8 = op.flags & kReluU8;
    k.dense_q(t.rows, op.in_dim, op.out_dim, static_cast<const uint8_t*>(s.src), s.ss * 4, w8, i32(m, op.t1),
              u8 ? i32(m, op.t2) : nullptr, u8 ? nullptr : f32(m, op.t2), s.dst, u8 ? s.ds * 4 : s.ds, acc);
    return;
  }
  const float* x = static_cast<const float*>(s.src);
  float* y = static_cast<float*>(s.dst);
  const float* bias = op.t1 == kNone ? nullptr : f32(m, op.t1);
  if (!dense_is_i8(m, op))
    k.dense_f32(t.rows, op.in_dim, op.out_dim, x, s.ss, f32(m, op.t0), bias, y, s.ds, acc);
  else if (op.flags & kSplitActivations)
    k.dense_i8_split(t.rows, op.in_dim, op.out_dim, x, s.ss, w8, f32(m, op.t2), bias, y, s.ds, acc, t.qbuf,
                     t.qbuf2, t.res, t.acc, t.acc2);
  else
    k.dense_i8(t.rows, op.in_dim, op.out_dim, x, s.ss, w8, f32(m, op.t2), bias, y, s.ds, acc, t.qbuf, t.acc);
}

void run_layernorm(const pe_model* m, const Op& op, const Tile& t, const Slots& s, const pe_k::KernelTable& k) {
  k.layernorm(t.rows, op.in_dim, static_cast<const float*>(s.src), s.ss, static_cast<float*>(s.dst), s.ds,
              f32(m, op.t0), f32(m, op.t1), op.fparam);
}

void run_relu(const pe_model*, const Op& op, const Tile& t, const Slots& s, const pe_k::KernelTable& k) {
  k.relu(t.rows, op.in_dim, static_cast<const float*>(s.src), s.ss, static_cast<float*>(s.dst), s.ds);
}

void run_gelu(const pe_model*, const Op& op, const Tile& t, const Slots& s, const pe_k::KernelTable& k) {
  k.gelu(t.rows, op.in_dim, static_cast<const float*>(s.src), s.ss, static_cast<float*>(s.dst), s.ds);
}

void run_quantize(const pe_model* m, const Op& op, const Tile& t, const Slots& s, const pe_k::KernelTable& k) {
  if (op.flags & kQuant16)
    k.quantize_static16(t.rows, op.in_dim, static_cast<const float*>(s.src), s.ss, static_cast<int16_t*>(s.dst),
                        s.ds * 2, f32(m, op.t0));
  else
    k.quantize_static(t.rows, op.in_dim, static_cast<const float*>(s.src), s.ss, static_cast<uint8_t*>(s.dst),
                      s.ds * 4, f32(m, op.t0));
}

// Indexed by op kind; the loader has refused every kind without an entry.
constexpr OpFn kRunOp[kOpKindEnd] = {nullptr, run_standardize, run_dense, run_layernorm, run_relu, run_gelu,
                                     run_quantize};

}  // namespace

extern "C" {

pe_status pe_arena_size(const pe_model* model, size_t max_rows, size_t* bytes) {
  if (!model || !bytes) return PE_ERR_NULL_ARG;
  if (!model->base || max_rows == 0 || max_rows > (size_t(1) << 24)) return PE_ERR_BAD_ARG;
  *bytes = kAlign + fixed_layout(model).total + max_rows * row_bytes(model);
  return PE_OK;
}

pe_status pe_run(const pe_model* m, void* arena, size_t arena_bytes, const float* x, size_t rows,
                 float* logits) {
  return pe_status(pe_run_with_table(m, pe_k::active(), arena, arena_bytes, x, rows, logits));
}

}  // extern "C"

int pe_run_with_table(const pe_model* m, const pe_k::KernelTable& k, void* arena, size_t arena_bytes,
                      const float* x, size_t rows, float* logits) {
  if (!m || !x || !logits || (!arena && arena_bytes)) return PE_ERR_NULL_ARG;
  if (!m->base || rows == 0) return PE_ERR_BAD_ARG;
  const uintptr_t a = reinterpret_cast<uintptr_t>(arena);
  const size_t pad = arena ? (kAlign - a % kAlign) % kAlign : 0;
  const Fixed fl = fixed_layout(m);
  const size_t fixed = fl.total, per_row = row_bytes(m);
  if (arena_bytes < pad + fixed) return PE_ERR_ARENA_TOO_SMALL;
  const size_t avail = arena_bytes - pad - fixed;
  size_t tile = per_row ? avail / per_row : rows;
  if (tile == 0) return PE_ERR_ARENA_TOO_SMALL;
  uint8_t* base = arena ? static_cast<uint8_t*>(arena) + pad : nullptr;
  Tile t{};
  t.stride = slot_stride(m);
  t.qbuf = fixed ? reinterpret_cast<int8_t*>(base + fl.q1) : nullptr;
  t.acc = fixed ? reinterpret_cast<int32_t*>(base + fl.acc1) : nullptr;
  if (fl.res) {
    t.qbuf2 = reinterpret_cast<int8_t*>(base + fl.q2);
    t.acc2 = reinterpret_cast<int32_t*>(base + fl.acc2);
    t.res = reinterpret_cast<float*>(base + fl.res);
  }
  t.scratch = per_row ? reinterpret_cast<float*>(base + fixed) : nullptr;
  for (size_t r0 = 0; r0 < rows; r0 += tile) {
    t.rows = rows - r0 < tile ? rows - r0 : tile;
    t.x = x + r0 * m->n_features;
    t.logits = logits + r0 * m->n_classes;
    for (uint32_t i = 0; i < m->n_ops; ++i) {
      const Op op = op_at(m->ops, i);
      kRunOp[op.kind](m, op, t, slots_of(m, op, t), k);
    }
  }
  return PE_OK;
}

extern "C" {

uint32_t pe_model_n_features(const pe_model* m) { return m ? m->n_features : 0; }
uint32_t pe_model_n_classes(const pe_model* m) { return m ? m->n_classes : 0; }
uint32_t pe_model_precision(const pe_model* m) { return m ? m->precision : 0; }

static const char* nth_string(const pe_model* m, uint32_t n) {
  const char* p = m->strings;
  for (uint32_t k = 0; k < n; ++k) p += std::strlen(p) + 1;  // validated: enough NULs
  return p;
}

const char* pe_model_feature_name(const pe_model* m, uint32_t i) {
  return (m && m->base && i < m->n_features) ? nth_string(m, i) : nullptr;
}
const char* pe_model_class_name(const pe_model* m, uint32_t i) {
  return (m && m->base && i < m->n_classes) ? nth_string(m, m->n_features + i) : nullptr;
}

const char* pe_status_str(pe_status s) {
  static const char* const kNames[] = {
      "ok", "null argument", "i/o error", "out of memory", "truncated file", "bad magic (not a .pem file)",
      "unsupported .pem format version (this runtime reads 1 to 3)", "inconsistent header", "checksum mismatch", "bad tensor table entry",
      "invalid op graph", "bad name table", "model bytes not 4-byte aligned", "arena too small",
      "bad argument", "invalid tensor value"};
  const unsigned i = unsigned(s);
  return i < sizeof kNames / sizeof kNames[0] ? kNames[i] : "unknown status";
}

uint32_t pe_abi_version(void) { return PE_ABI_VERSION; }

}  // extern "C"
