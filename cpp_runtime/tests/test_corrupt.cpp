// Every corruption of a .pem file must give an error status (and never read out of bounds: the
// fuzzer and ASan builds check that part): each header field, with and without fixed checksums;
// truncation at every byte (so at every section boundary); every flipped payload byte; table fields.
#include <cstring>
#include <string>

#include "pe_format.h"
#include "pe_runtime.h"
#include "testutil.h"

using namespace pe_fmt;

namespace {

std::vector<uint8_t> orig;

pe_status load(const std::vector<uint8_t>& b) {
  std::vector<uint32_t> buf(b.size() / 4 + 1);
  if (!b.empty()) std::memcpy(buf.data(), b.data(), b.size());
  pe_model m;
  return pe_model_init(&m, buf.data(), b.size());
}

void put32(std::vector<uint8_t>& b, size_t off, uint32_t v) { std::memcpy(&b[off], &v, 4); }

void fix_crc(std::vector<uint8_t>& b) {
  put32(b, kPayloadCrc, crc32(b.data() + kHeaderSize, b.size() - kHeaderSize));
  put32(b, kHeaderCrc, crc32(b.data(), kHeaderCrc));
}

void header_fields() {
  const uint32_t fields[] = {kVersion, kHeaderSizeF, kFileSize, kPrecision, kNFeatures, kNClasses, kNTensors,
                             kNOps, kNSlots, kStringsOffset, kStringsSize, kDataOffset, kPayloadCrc, kHeaderCrc};
  const uint32_t values[] = {0u, 1u, 2u, 3u, 7u, 63u, 65u, 0x7FFFFFFFu, 0xFFFFFFFFu};
  int tried = 0;
  for (uint32_t f : fields) {
    const uint32_t cur = rd32(&orig[f]);
    for (uint32_t v : {cur + 1, cur - 1, cur * 2, values[0], values[1], values[2], values[3], values[4],
                       values[5], values[6], values[7], values[8]}) {
      if (v == cur) continue;
      auto b = orig;
      put32(b, f, v);
      CHECK(load(b) != PE_OK);  // header CRC catches it
      // another version this runtime reads is no corruption (version 2 is a superset of 1)
      const bool readable = f == kVersion && v >= kMinVersion && v <= kMaxVersion;
      if (f != kPayloadCrc && f != kHeaderCrc && !readable) {
        fix_crc(b);  // the field check itself must catch it too
        const pe_status s = load(b);
        if (s == PE_OK) std::fprintf(stderr, "field @%u = %u accepted\n", f, v);
        CHECK(s != PE_OK);
      }
      ++tried;
    }
  }
  for (size_t i = 0; i < 8; ++i) {  // magic
    auto b = orig;
    b[i] ^= 0x20;
    CHECK(load(b) == PE_ERR_BAD_MAGIC);
  }
  std::printf("header: %d field corruptions rejected\n", tried);
}

void truncations() {
  for (size_t n = 0; n < orig.size(); ++n) {
    std::vector<uint8_t> b(orig.begin(), orig.begin() + long(n));
    const pe_status s = load(b);
    if (s == PE_OK) std::fprintf(stderr, "truncated to %zu accepted\n", n);
    CHECK(s != PE_OK);
  }
  std::printf("truncation: %zu lengths rejected\n", orig.size());
}

void flips() {
  for (size_t i = kHeaderSize; i < orig.size(); ++i) {
    auto b = orig;
    b[i] ^= 0x01;
    CHECK(load(b) == PE_ERR_CHECKSUM);
  }
  std::printf("payload flips: %zu rejected\n", orig.size() - kHeaderSize);
}

void table_fields() {  // semantic checks behind the checksum: every u32 of both tables
  const uint32_t nt = rd32(&orig[kNTensors]), no = rd32(&orig[kNOps]);
  const size_t end = kHeaderSize + size_t(nt) * kTensorEntry + size_t(no) * kOpEntry;
  int accepted_benign = 0, rejected = 0;
  for (size_t off = kHeaderSize; off < end; off += 4) {
    for (uint32_t v : {0x7FFFFFFFu, 0xFFFFFFF0u, 4097u}) {
      auto b = orig;
      if (rd32(&b[off]) == v) continue;
      put32(b, off, v);
      fix_crc(b);
      const pe_status s = load(b);
      const bool is_fparam = off >= kHeaderSize + nt * kTensorEntry && (off - kHeaderSize - nt * kTensorEntry) % kOpEntry == 32;
      if (s == PE_OK) {
        ++accepted_benign;
        if (!is_fparam) std::fprintf(stderr, "table u32 @%zu = %u accepted\n", off, v);
        CHECK(is_fparam);  // only an op's float parameter may take such a bit pattern (a finite eps)
      } else {
        ++rejected;
      }
    }
  }
  std::printf("tables: %d corruptions rejected, %d benign (finite eps values)\n", rejected, accepted_benign);
}

// Op flags: ACCUMULATE (bit 0) as the file has it; SPLIT (bit 1) is valid on an int8 DENSE only
// (refused on an fp32 DENSE, also one kept fp32 in an int8 file, and on every other op); any
// other bit is refused. Each with fixed checksums, so the graph check itself must decide.
void flag_bits() {
  const uint32_t nt = rd32(&orig[kNTensors]), no = rd32(&orig[kNOps]);
  const size_t ops = kHeaderSize + size_t(nt) * kTensorEntry;
  int refused = 0, accepted = 0;
  for (uint32_t i = 0; i < no; ++i) {
    const Op op = op_at(&orig[ops], i);
    const bool i8 = op.kind == kDense && tensor_at(&orig[kHeaderSize], op.t0).dtype == kI8;
    for (uint32_t bit : {uint32_t(kSplitActivations), 4u, 8u, 0x80000000u}) {
      auto b = orig;
      put32(b, ops + size_t(i) * kOpEntry + 36, op.flags ^ bit);
      fix_crc(b);
      const pe_status s = load(b);
      const bool valid = bit == kSplitActivations && i8 && !(op.flags & kStatic);  // SPLIT: dynamic int8 only
      if ((s == PE_OK) != valid)
        std::fprintf(stderr, "op %u (kind %u%s) flags ^ %#x: %s\n", i, op.kind, i8 ? ", int8" : "", bit,
                     pe_status_str(s));
      CHECK((s == PE_OK) == valid);
      CHECK(valid || s == PE_ERR_GRAPH);
      (s == PE_OK ? accepted : refused) += 1;
    }
  }
  std::printf("flags: %d refused, %d accepted (SPLIT toggled on an int8 DENSE)\n", refused, accepted);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return std::fprintf(stderr, "usage: test_corrupt MODEL.pem\n"), 2;
  orig = read_file(argv[1]);
  CHECK(load(orig) == PE_OK);
  header_fields();
  truncations();
  flips();
  table_fields();
  flag_bits();
  return g_failures ? 1 : 0;
}
