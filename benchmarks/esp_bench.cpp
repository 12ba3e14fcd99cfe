// SPDX-License-Identifier: Apache-2.0
// esp_bench: the ESP datapath (esp::seal / esp::open on a PacketBuffer)
// beside the raw crypto it runs on the same buffer, in the same process, so
// that the ratio of the two is what ESP itself costs (framing, outer header,
// replay window, counters, parsing). benchmarks/README.md "ESP datapath" has
// the figures; benchmarks/esp_ratios.py turns a JSON run into the table.
//
//   esp_encap/<suite>/<variant>/<size>   restore the inner header, esp::seal
//   raw_encap/<suite>/<variant>/<size>   restore the inner header, the AEAD seal
//                                        (or encrypt + ICV) over the same octets
//   esp_decap/<suite>/<variant>/<size>   copy a sealed packet from the pool, esp::open
//   raw_decap/<suite>/<variant>/<size>   the same copy, the AEAD open (or ICV
//                                        check + decrypt) over the same octets
//
// <size> is the inner packet (tunnel mode) or the original IP packet
// (transport mode) in octets; <variant> is tunnel4 (IPv4 in IPv4), tunnel6
// (IPv6 in IPv6) or transport4. The raw benchmarks process exactly what ESP
// hands to the crypto: the 8-octet ESP header as AAD (or as the start of
// what the ICV covers), payload + padding + pad length + next header as data,
// at the same addresses in the same buffer.
//
// Decapsulation needs a fresh sequence number per packet (the replay window
// drops repeats): a pool of sealed packets is prepared outside the timing and
// sealed again with later sequence numbers each time it runs out
// (PauseTiming once per pool). The raw benchmarks copy from the same pool and
// pause the same way, so the copy and the pause cancel in the ratio.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench_util.hpp"
#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/endian.hpp"
#include "ipsec/bytes/packet_buffer.hpp"
#include "ipsec/core/ip.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/crypto/aead.hpp"
#include "ipsec/crypto/cipher.hpp"
#include "ipsec/crypto/integrity.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/suites.hpp"
#include "ipsec/crypto/transform_ids.hpp"
#include "ipsec/esp/esp.hpp"
#include "ipsec/esp/sa.hpp"
#include "ipsec/wire/ip_header.hpp"

namespace {

using ipsec::ByteView;
using ipsec::Errc;
using ipsec::IpAddress;
using ipsec::MutableByteView;
using ipsec::PacketBuffer;
using ipsec::Status;
using ipsec::crypto::EncrId;
using ipsec::crypto::IntegId;

constexpr std::array<size_t, 4> kPacketSizes = {64, 576, 1400, 9000};

// The host buffer: room in front for the outer headers (limits::kEspMaxHeadroom)
// and behind for the trailer and ICV (limits::kEspMaxTailroom).
constexpr size_t kHeadroom = 128;
constexpr size_t kTailroom = 512;
static_assert(kHeadroom >= ipsec::limits::kEspMaxHeadroom && kTailroom >= ipsec::limits::kEspMaxTailroom);

// The decapsulation pool: up to 1024 sealed packets, at most about 2 MiB.
constexpr size_t kPoolPackets = 1024;
constexpr size_t kPoolBytes = size_t{2} << 20;
constexpr size_t kMinPoolPackets = 64;

constexpr size_t kEspHeader = 8;  // SPI, sequence number

struct Suite {
  const char* name;
  EncrId encr;
  uint16_t key_bits;
  IntegId integ;
};

// DefaultProvider: libsodium for AES-256-GCM-16 (AES-NI) and
// ChaCha20-Poly1305, mbedTLS for the rest.
constexpr Suite kSuites[] = {
    {"aes256gcm16", EncrId::aes_gcm_16, 256, IntegId::none},
    {"chacha20poly1305", EncrId::chacha20_poly1305, 0, IntegId::none},
    {"aes128gcm16", EncrId::aes_gcm_16, 128, IntegId::none},
    {"aes128cbc+hmac_sha2_256_128", EncrId::aes_cbc, 128, IntegId::hmac_sha2_256_128},
    {"aes128ctr+aes_xcbc_96", EncrId::aes_ctr, 128, IntegId::aes_xcbc_96},
    {"null+hmac_sha1_96", EncrId::null, 0, IntegId::hmac_sha1_96},
};

enum class Variant : uint8_t { tunnel4, tunnel6, transport4 };

const char* variant_name(Variant v) {
  switch (v) {
    case Variant::tunnel4: return "tunnel4";
    case Variant::tunnel6: return "tunnel6";
    case Variant::transport4: return "transport4";
  }
  return "?";
}

ipsec::crypto::Provider& provider() {
  static ipsec::crypto::DefaultProvider p;
  return p;
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + 31 * i);
  return v;
}

// inner_packet: a UDP datagram of `size` octets in all, over IPv4
// (10.1.1.1 -> 10.2.2.2, DF) or IPv6, with a valid IPv4 header checksum.
std::vector<uint8_t> inner_packet(bool v6, size_t size) {
  std::vector<uint8_t> p = pattern(size, 0x5a);
  const size_t ip = v6 ? ipsec::wire::Ipv6Header::kSize : ipsec::wire::Ipv4Header::kMinSize;
  const auto udp_length = static_cast<uint16_t>(size - ip);
  if (v6) {
    std::fill_n(p.begin(), ip, uint8_t{0});
    p[0] = 0x60;
    ipsec::store_be16(std::span<uint8_t>(p).subspan<4, 2>(), udp_length);
    p[6] = 17;
    p[7] = 64;
    p[8] = 0x20;  // 2001:db8:1::1 -> 2001:db8:2::1
    p[9] = 0x01;
    p[10] = 0x0d;
    p[11] = 0xb8;
    p[13] = 0x01;
    p[23] = 0x01;
    std::copy_n(p.begin() + 8, 16, p.begin() + 24);
    p[29] = 0x02;
  } else {
    std::fill_n(p.begin(), ip, uint8_t{0});
    p[0] = 0x45;
    ipsec::store_be16(std::span<uint8_t>(p).subspan<2, 2>(), static_cast<uint16_t>(size));
    p[4] = 0x12;
    p[5] = 0x34;
    p[6] = 0x40;
    p[8] = 64;
    p[9] = 17;
    const std::array<uint8_t, 8> addresses = {10, 1, 1, 1, 10, 2, 2, 2};
    std::copy(addresses.begin(), addresses.end(), p.begin() + 12);
    ipsec::store_be16(std::span<uint8_t>(p).subspan<10, 2>(),
                      ipsec::wire::internet_checksum(ByteView(p).first(ip)));
  }
  ipsec::store_be16(std::span<uint8_t>(p).subspan(ip).first<2>(), 12345);
  ipsec::store_be16(std::span<uint8_t>(p).subspan(ip + 2).first<2>(), 53);
  ipsec::store_be16(std::span<uint8_t>(p).subspan(ip + 4).first<2>(), udp_length);
  ipsec::store_be16(std::span<uint8_t>(p).subspan(ip + 6).first<2>(), 0);
  return p;
}

ipsec::esp::TunnelConfig tunnel(bool v6) {
  ipsec::esp::TunnelConfig t;
  t.local = IpAddress::parse(v6 ? "2001:db8::1" : "192.0.2.1").value();
  t.remote = IpAddress::parse(v6 ? "2001:db8::2" : "198.51.100.2").value();
  return t;
}

// Fixture: an outbound and an inbound SA with the same keys, the raw
// transforms keyed the same way, one host buffer, and the decapsulation pool.
// Everything is allocated here, before the timing loop.
class Fixture {
 public:
  Status init(const Suite& suite, Variant variant, size_t size) {
    size_ = size;
    const bool v6 = variant == Variant::tunnel6;
    const auto encr = ipsec::crypto::encr_info(suite.encr);
    if (!encr) return Errc::unsupported_algorithm;
    const std::vector<uint8_t> encr_key = pattern(encr->keymat_size(suite.key_bits), 0x11);
    std::vector<uint8_t> integ_key;
    if (suite.integ != IntegId::none) {
      const auto integ = ipsec::crypto::integ_info(suite.integ);
      if (!integ) return Errc::unsupported_algorithm;
      integ_key = pattern(integ->key_size, 0x77);
    }
    ipsec::esp::SaConfig config;
    config.spi = 0x01020304;
    config.encr = suite.encr;
    config.encr_key_bits = suite.key_bits;
    config.encr_keymat = encr_key;
    config.integ = suite.integ;
    config.integ_key = integ_key;
    config.mode = variant == Variant::transport4 ? ipsec::esp::Mode::transport : ipsec::esp::Mode::tunnel;
    if (config.mode == ipsec::esp::Mode::tunnel) config.tunnel = tunnel(v6);
    auto out = ipsec::esp::OutboundSa::create(config, provider());
    if (!out) return out.status();
    auto in = ipsec::esp::InboundSa::create(config, provider());
    if (!in) return in.status();
    out_ = std::move(*out);
    in_ = std::move(*in);
    if (encr->aead) {
      auto aead = provider().make_aead(suite.encr, suite.key_bits, encr_key);
      if (!aead) return aead.status();
      aead_ = std::move(*aead);
      label_ = aead_->backend();
    } else {
      auto cipher = provider().make_cipher(suite.encr, suite.key_bits, encr_key);
      if (!cipher) return cipher.status();
      auto integ = provider().make_integrity(suite.integ, integ_key);
      if (!integ) return integ.status();
      cipher_ = std::move(*cipher);
      integ_ = std::move(*integ);
      label_ = std::string(cipher_->backend()) + "+" + integ_->backend();
    }

    inner_ = inner_packet(v6, size);
    inner_header_ = v6 ? ipsec::wire::Ipv6Header::kSize : ipsec::wire::Ipv4Header::kMinSize;
    storage_.assign(kHeadroom + size + kTailroom, 0);

    // One round trip of the whole packet: the layout the raw benchmarks use
    // is the one seal produced, and open must give the packet back.
    std::copy(inner_.begin(), inner_.end(), storage_.begin() + kHeadroom);
    load_inner();
    auto sealed = ipsec::esp::seal(*out_, pb_);
    if (!sealed) return sealed.status();
    wire_offset_ = pb_.offset();
    wire_size_ = pb_.size();
    esp_ = wire_offset_ + sealed->esp_offset;
    iv_size_ = out_->transforms().iv_size;
    icv_size_ = out_->transforms().icv_size;
    if (wire_size_ < sealed->esp_offset + kEspHeader + iv_size_ + icv_size_) return Errc::truncated;
    body_size_ = wire_size_ - sealed->esp_offset - kEspHeader - iv_size_ - icv_size_;
    auto opened = ipsec::esp::open(*in_, pb_);
    if (!opened) return opened.status();
    if (!ipsec::equal_bytes(pb_.data(), inner_)) return Errc::integrity_check_failed;

    // The raw transforms round-trip on that layout too.
    load_inner();
    if (Status s = raw_seal(1); !s.ok()) return s;
    if (Status s = raw_open(); !s.ok()) return s;

    pool_packets_ = std::clamp(kPoolBytes / wire_size_, kMinPoolPackets, kPoolPackets);
    pool_.assign(pool_packets_ * wire_size_, 0);
    return Status::success();
  }

  [[nodiscard]] const std::string& label() const { return label_; }
  [[nodiscard]] size_t pool_packets() const { return pool_packets_; }
  ipsec::esp::OutboundSa& out() { return *out_; }
  ipsec::esp::InboundSa& in() { return *in_; }
  PacketBuffer& pb() { return pb_; }

  // load_inner: the packet to seal. seal works in place, so the previous
  // iteration left ciphertext where the inner packet was: restore the inner
  // IP header (all that seal reads; the cost of the crypto does not depend
  // on the payload octets) and the PacketBuffer.
  void load_inner() noexcept {
    std::memcpy(storage_.data() + kHeadroom, inner_.data(), inner_header_);
    pb_ = PacketBuffer::over(storage_, kHeadroom, size_).value();
  }

  // load_wire: pooled packet k, where seal had left it.
  void load_wire(size_t k) noexcept {
    std::memcpy(storage_.data() + wire_offset_, pool_.data() + k * wire_size_, wire_size_);
    pb_ = PacketBuffer::over(storage_, wire_offset_, wire_size_).value();
  }

  // refill: seal the pool again with the next sequence numbers.
  Status refill() noexcept {
    for (size_t k = 0; k < pool_packets_; ++k) {
      load_inner();
      auto sealed = ipsec::esp::seal(*out_, pb_);
      if (!sealed) return sealed.status();
      if (pb_.offset() != wire_offset_ || pb_.size() != wire_size_) return Errc::invalid_length;
      std::memcpy(pool_.data() + k * wire_size_, pb_.data().data(), wire_size_);
    }
    return Status::success();
  }

  // raw_seal: what esp::seal asks of the crypto, on the same octets: an
  // explicit IV from the counter (CBC: the counter too, where ESP encrypts
  // SPI | seq first), then the AEAD over header (AAD) and body, or encrypt
  // and the ICV over header | IV | body.
  Status raw_seal(uint64_t counter) noexcept {
    uint8_t* const esp = storage_.data() + esp_;
    const MutableByteView header(esp, kEspHeader);
    const MutableByteView iv(esp + kEspHeader, iv_size_);
    const MutableByteView body(esp + kEspHeader + iv_size_, body_size_);
    const MutableByteView icv(esp + kEspHeader + iv_size_ + body_size_, icv_size_);
    if (iv_size_ >= 8) ipsec::store_be64(iv.first<8>(), counter);
    if (aead_) return aead_->seal(iv, header, body, icv);
    if (Status s = cipher_->encrypt(iv, body); !s.ok()) return s;
    const ByteView parts[] = {ByteView(esp, kEspHeader + iv_size_ + body_size_)};
    return integ_->compute(parts, icv);
  }

  // raw_open: the AEAD open, or the ICV check and decrypt, of the packet in
  // the buffer (load_wire).
  Status raw_open() noexcept {
    uint8_t* const esp = storage_.data() + esp_;
    const ByteView header(esp, kEspHeader);
    const ByteView iv(esp + kEspHeader, iv_size_);
    const MutableByteView body(esp + kEspHeader + iv_size_, body_size_);
    const ByteView icv(esp + kEspHeader + iv_size_ + body_size_, icv_size_);
    if (aead_) return aead_->open(iv, header, body, icv);
    const ByteView parts[] = {ByteView(esp, kEspHeader + iv_size_ + body_size_)};
    if (Status s = integ_->verify(parts, icv); !s.ok()) return s;
    return cipher_->decrypt(iv, body);
  }

  void keep() {
    benchmark::DoNotOptimize(storage_.data());
    benchmark::ClobberMemory();
  }

 private:
  size_t size_ = 0;
  std::unique_ptr<ipsec::esp::OutboundSa> out_;
  std::unique_ptr<ipsec::esp::InboundSa> in_;
  std::unique_ptr<ipsec::crypto::Aead> aead_;
  std::unique_ptr<ipsec::crypto::Cipher> cipher_;
  std::unique_ptr<ipsec::crypto::Integrity> integ_;
  std::string label_;
  std::vector<uint8_t> inner_;
  size_t inner_header_ = 0;
  std::vector<uint8_t> storage_;
  PacketBuffer pb_;
  size_t wire_offset_ = 0, wire_size_ = 0;  // the sealed packet in storage_
  size_t esp_ = 0;                          // its ESP header in storage_
  size_t iv_size_ = 0, icv_size_ = 0, body_size_ = 0;
  std::vector<uint8_t> pool_;
  size_t pool_packets_ = 0;
};

using ipsec::bench::fail;

bool setup(benchmark::State& state, Fixture& f, const Suite& suite, Variant variant, size_t size) {
  if (const Status s = f.init(suite, variant, size); !s.ok()) {
    fail(state, "init", s);
    return false;
  }
  state.SetLabel(f.label());
  return true;
}

void finish(benchmark::State& state, size_t size) {
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(size));
}

void bm_esp_encap(benchmark::State& state, Suite suite, Variant variant, size_t size) {
  Fixture f;
  if (!setup(state, f, suite, variant, size)) return;
  for (auto _ : state) {
    f.load_inner();
    auto sealed = ipsec::esp::seal(f.out(), f.pb());
    if (!sealed) {
      fail(state, "seal", sealed.status());
      break;
    }
    f.keep();
  }
  finish(state, size);
}

void bm_raw_encap(benchmark::State& state, Suite suite, Variant variant, size_t size) {
  Fixture f;
  if (!setup(state, f, suite, variant, size)) return;
  uint64_t counter = 1;
  for (auto _ : state) {
    f.load_inner();
    if (const Status s = f.raw_seal(++counter); !s.ok()) {
      fail(state, "raw seal", s);
      break;
    }
    f.keep();
  }
  finish(state, size);
}

// decap: `esp` selects esp::open or the raw open; everything else is shared.
void bm_decap(benchmark::State& state, Suite suite, Variant variant, size_t size, bool esp) {
  Fixture f;
  if (!setup(state, f, suite, variant, size)) return;
  if (const Status s = f.refill(); !s.ok()) return fail(state, "refill", s);
  const size_t n = f.pool_packets();
  size_t k = 0;
  for (auto _ : state) {
    if (k == n) {
      state.PauseTiming();
      const Status s = f.refill();
      state.ResumeTiming();
      if (!s.ok()) {
        fail(state, "refill", s);
        break;
      }
      k = 0;
    }
    f.load_wire(k++);
    if (esp) {
      auto opened = ipsec::esp::open(f.in(), f.pb());
      if (!opened) {
        fail(state, "open", opened.status());
        break;
      }
    } else if (const Status s = f.raw_open(); !s.ok()) {
      fail(state, "raw open", s);
      break;
    }
    f.keep();
  }
  finish(state, size);
}

template <typename Fn>
void add(const std::string& name, Fn&& fn) {
  benchmark::RegisterBenchmark(name.c_str(), std::forward<Fn>(fn));
}

void register_case(const Suite& suite, Variant variant, size_t size) {
  const std::string suffix =
      std::string(suite.name) + "/" + variant_name(variant) + "/" + std::to_string(size);
  add("esp_encap/" + suffix, [=](benchmark::State& s) { bm_esp_encap(s, suite, variant, size); });
  add("raw_encap/" + suffix, [=](benchmark::State& s) { bm_raw_encap(s, suite, variant, size); });
  add("esp_decap/" + suffix, [=](benchmark::State& s) { bm_decap(s, suite, variant, size, true); });
  add("raw_decap/" + suffix, [=](benchmark::State& s) { bm_decap(s, suite, variant, size, false); });
}

bool register_all() {
  for (const Suite& suite : kSuites) {
    for (const size_t size : kPacketSizes) register_case(suite, Variant::tunnel4, size);
  }
  register_case(kSuites[0], Variant::tunnel6, 1400);
  register_case(kSuites[0], Variant::transport4, 1400);
  return true;
}

[[maybe_unused]] const bool registered = register_all();

}  // namespace

BENCHMARK_MAIN();
