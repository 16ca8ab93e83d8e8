// Internal: byte layout of the .pem format (see FORMAT.md) and little-endian field readers.
#ifndef PE_FORMAT_H
#define PE_FORMAT_H

#include <cstdint>
#include <cstring>

namespace pe_fmt {

constexpr char kMagic[8] = {'P', 'E', 'M', 'O', 'D', 'E', 'L', '\0'};
constexpr uint32_t kHeaderSize = 64;
constexpr uint32_t kTensorEntry = 32;
constexpr uint32_t kOpEntry = 40;
constexpr uint32_t kDataAlign = 64;
constexpr uint32_t kNone = 0xFFFFFFFFu;
constexpr uint32_t kMaxTensors = 1024;
constexpr uint32_t kMaxOps = 256;
constexpr uint32_t kMaxSlots = 16;
constexpr uint32_t kMaxDim = 4096;
constexpr uint32_t kMinVersion = 1, kMaxVersion = 3;  // versions read; 2 adds static int8, 3 int16 activations

// Header field byte offsets.
enum HeaderField : uint32_t {
  kVersion = 8, kHeaderSizeF = 12, kFileSize = 16, kPrecision = 20, kNFeatures = 24,
  kNClasses = 28, kNTensors = 32, kNOps = 36, kNSlots = 40, kStringsOffset = 44,
  kStringsSize = 48, kDataOffset = 52, kPayloadCrc = 56, kHeaderCrc = 60
};

enum DType : uint32_t { kF32 = 1, kI8 = 2, kI32 = 3 };  // kI32: version 2
enum OpKind : uint32_t {
  kStandardize = 1, kDense = 2, kLayerNorm = 3, kRelu = 4, kGelu = 5,
  kQuantize = 6,  // version 2: float slot -> uint8 slot with static per-feature scales
  kOpKindEnd
};
// DENSE flags. kSplitActivations: dynamic int8 DENSE only, the two-pass activation split.
// kStatic (version 2): static int8 DENSE on a uint8 slot; kReluU8 (with kStatic): requantise to
// a uint8 slot with the ReLU folded in (else the output is dequantised to float). FORMAT.md.
// Version 3 (W8A16): kIn16 (with kStatic) reads an int16 slot; kOut16 (with kIn16 and kReluU8)
// requantises to an int16 slot (0..32767) instead of uint8. QUANTIZE flag kQuant16: int16 output.
enum OpFlag : uint32_t { kAccumulate = 1, kSplitActivations = 2, kStatic = 4, kReluU8 = 8, kIn16 = 16, kOut16 = 32 };
constexpr uint32_t kQuant16 = 1;

inline uint32_t rd32(const uint8_t* p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint32_t v;  // one load where the target is little-endian (the run path decodes ops per call)
  std::memcpy(&v, p, 4);
  return v;
#else
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
#endif
}
inline float rdf32(const uint8_t* p) {
  uint32_t u = rd32(p);
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

struct Tensor {  // decoded tensor table entry
  uint32_t dtype, rank, dim0, dim1, offset, nbytes;
};
struct Op {  // decoded op table entry
  uint32_t kind, src, dst, in_dim, out_dim, t0, t1, t2;
  float fparam;
  uint32_t flags;
};

inline Tensor tensor_at(const uint8_t* table, uint32_t i) {
  const uint8_t* e = table + size_t(i) * kTensorEntry;
  return Tensor{rd32(e), rd32(e + 4), rd32(e + 8), rd32(e + 12), rd32(e + 16), rd32(e + 20)};
}
inline Op op_at(const uint8_t* table, uint32_t i) {
  const uint8_t* e = table + size_t(i) * kOpEntry;
  return Op{rd32(e), rd32(e + 4), rd32(e + 8), rd32(e + 12), rd32(e + 16),
            rd32(e + 20), rd32(e + 24), rd32(e + 28), rdf32(e + 32), rd32(e + 36)};
}

uint32_t crc32(const uint8_t* data, size_t n);

}  // namespace pe_fmt
#endif
