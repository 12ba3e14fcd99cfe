// SPDX-License-Identifier: Apache-2.0
// The ESP packet path never allocates (esp/esp.hpp: "in place on a host
// buffer, no allocation"; crypto/provider.hpp: using a keyed transform never
// allocates). This binary replaces the C allocator (malloc and friends,
// forwarding to glibc's __libc_* entry points) and every global operator
// new/delete, counts the calls made while counting is on, and runs
// seal + open round trips with counting on. Creating the SAs may allocate
// and happens before.
//
// Its own executable (tests/CMakeLists.txt: test_esp_alloc), because
// replacing the allocator affects the whole program; not built under the
// sanitizers, which intercept malloc themselves.
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <span>
#include <string_view>
#include <vector>

#include "esp/esp_test_util.hpp"
#include "ipsec/esp/esp.hpp"

// ---- The replacement allocator -------------------------------------------------------------

extern "C" {
// glibc's own entry points, which its malloc, free, ... forward to.
void* __libc_malloc(std::size_t size) noexcept;
void* __libc_calloc(std::size_t count, std::size_t size) noexcept;
void* __libc_realloc(void* p, std::size_t size) noexcept;
void __libc_free(void* p) noexcept;
void* __libc_memalign(std::size_t alignment, std::size_t size) noexcept;
// <malloc.h>, not included here.
void* memalign(std::size_t alignment, std::size_t size) noexcept;
}

namespace {

std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
std::atomic<long> g_deallocations{0};
std::atomic<long> g_c_allocations{0};  // of those, through malloc and friends

void note_allocation() noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
}
void note_c_allocation() noexcept {
  note_allocation();
  if (g_counting.load(std::memory_order_relaxed)) g_c_allocations.fetch_add(1, std::memory_order_relaxed);
}
void note_deallocation() noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_deallocations.fetch_add(1, std::memory_order_relaxed);
}

void* allocate(std::size_t size) noexcept {
  note_allocation();
  return __libc_malloc(size == 0 ? 1 : size);
}
void* allocate_aligned(std::size_t size, std::align_val_t alignment) noexcept {
  note_allocation();
  return __libc_memalign(static_cast<std::size_t>(alignment), size == 0 ? 1 : size);
}
void deallocate(void* p) noexcept {
  note_deallocation();
  __libc_free(p);
}

void* allocate_or_fail(void* p) {
  if (p == nullptr) {
#if defined(__cpp_exceptions)
    throw std::bad_alloc();
#else
    std::abort();
#endif
  }
  return p;
}

// Counting: counts the allocator calls made during its lifetime.
class Counting {
 public:
  Counting() noexcept {
    g_allocations.store(0);
    g_deallocations.store(0);
    g_c_allocations.store(0);
    g_counting.store(true);
  }
  ~Counting() { g_counting.store(false); }
  Counting(const Counting&) = delete;
  Counting& operator=(const Counting&) = delete;
  void stop() noexcept { g_counting.store(false); }
  [[nodiscard]] long allocations() const noexcept { return g_allocations.load(); }
  [[nodiscard]] long deallocations() const noexcept { return g_deallocations.load(); }
  [[nodiscard]] long c_allocations() const noexcept { return g_c_allocations.load(); }
};

}  // namespace

extern "C" {
void* malloc(std::size_t size) noexcept {
  note_c_allocation();
  return __libc_malloc(size);
}
void* calloc(std::size_t count, std::size_t size) noexcept {
  note_c_allocation();
  return __libc_calloc(count, size);
}
void* realloc(void* p, std::size_t size) noexcept {
  note_c_allocation();
  return __libc_realloc(p, size);
}
void free(void* p) noexcept {
  if (p != nullptr) note_deallocation();
  __libc_free(p);
}
void* memalign(std::size_t alignment, std::size_t size) noexcept {
  note_c_allocation();
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
  note_c_allocation();
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
  note_c_allocation();
  if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
  void* p = __libc_memalign(alignment, size);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
}

void* operator new(std::size_t size) { return allocate_or_fail(allocate(size)); }
void* operator new[](std::size_t size) { return allocate_or_fail(allocate(size)); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return allocate(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return allocate(size); }
void* operator new(std::size_t size, std::align_val_t alignment) {
  return allocate_or_fail(allocate_aligned(size, alignment));
}
void* operator new[](std::size_t size, std::align_val_t alignment) {
  return allocate_or_fail(allocate_aligned(size, alignment));
}
void* operator new(std::size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return allocate_aligned(size, alignment);
}
void* operator new[](std::size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return allocate_aligned(size, alignment);
}
void operator delete(void* p) noexcept { deallocate(p); }
void operator delete[](void* p) noexcept { deallocate(p); }
void operator delete(void* p, std::size_t) noexcept { deallocate(p); }
void operator delete[](void* p, std::size_t) noexcept { deallocate(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { deallocate(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { deallocate(p); }
void operator delete(void* p, std::align_val_t) noexcept { deallocate(p); }
void operator delete[](void* p, std::align_val_t) noexcept { deallocate(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { deallocate(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { deallocate(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { deallocate(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { deallocate(p); }

// ---- Tests -----------------------------------------------------------------------------------

using namespace ipsec;
using namespace ipsec::test;
using crypto::EncrId;
using crypto::IntegId;

namespace {

// escape: the compiler must assume p is used (so that an allocation and its
// release are not elided).
void escape(void* p) { asm volatile("" : : "g"(p) : "memory"); }

struct alignas(64) Wide {  // allocated by the aligned operator new
  std::array<uint8_t, 64> octets{};
};

struct AllocSuite {
  const char* name;
  Suite suite;
};

enum class Shape { tunnel4, transport6 };

constexpr size_t kRoundTrips = 10000;

// Inner packets of several sizes, so that the padding varies.
constexpr std::array<size_t, 6> kPayloadSizes = {0, 1, 13, 64, 536, 1372};

}  // namespace

TEST_CASE("the replacement allocator sees malloc, free and operator new/delete") {
  void* (*volatile do_malloc)(std::size_t) = std::malloc;
  void (*volatile do_free)(void*) = std::free;
  Counting counting;
  void* p = do_malloc(24);
  escape(p);
  do_free(p);
  auto* q = new int(7);
  escape(q);
  delete q;
  auto* r = new Wide();
  escape(r);
  delete r;
  std::vector<uint8_t> v(100);
  escape(v.data());
  std::vector<uint8_t>().swap(v);
  counting.stop();
  CHECK(counting.allocations() == 4);
  CHECK(counting.c_allocations() == 1);
  CHECK(counting.deallocations() == 4);
}

TEST_CASE("the replacement allocator sees the library and the crypto backends allocate") {
  // Keying an SA allocates: the library's own objects (operator new) and,
  // inside libmbedcrypto, the cipher context (calloc): proof that the
  // replacement also catches the shared libraries' calls.
  crypto::MbedtlsProvider provider;
  const Bytes key = test_key(crypto::encr_info(EncrId::aes_gcm_16)->keymat_size(128), 0x11);
  auto config = base_config({EncrId::aes_gcm_16, 128, IntegId::none}, key, {});
  config.tunnel = tunnel4();
  Counting counting;
  auto sa = esp::OutboundSa::create(config, provider);
  counting.stop();
  REQUIRE(sa.ok());
  CHECK(counting.allocations() > counting.c_allocations());
  CHECK(counting.c_allocations() > 0);
}

TEST_CASE("ESP seal and open allocate nothing (10,000 round trips per SA, ESN)") {
  crypto::DefaultProvider provider;
  const AllocSuite suites[] = {
      {"AES-256-GCM-16", {EncrId::aes_gcm_16, 256, IntegId::none}},
      {"ChaCha20-Poly1305", {EncrId::chacha20_poly1305, 0, IntegId::none}},
      {"AES-128-GCM-16", {EncrId::aes_gcm_16, 128, IntegId::none}},
      {"AES-CBC-128 + HMAC-SHA2-256-128", {EncrId::aes_cbc, 128, IntegId::hmac_sha2_256_128}},
  };
  for (const AllocSuite& s : suites) {
    for (const Shape shape : {Shape::tunnel4, Shape::transport6}) {
      INFO(s.name << (shape == Shape::tunnel4 ? " tunnel IPv4" : " transport IPv6"));
      // Everything that may allocate happens here, before counting.
      const Bytes encr_key = test_key(crypto::encr_info(s.suite.encr)->keymat_size(s.suite.key_bits), 0x11);
      const Bytes integ_key = s.suite.integ == IntegId::none
                                  ? Bytes()
                                  : test_key(crypto::integ_info(s.suite.integ)->key_size, 0x77);
      auto config = base_config(s.suite, encr_key, integ_key);
      config.esn = true;
      if (shape == Shape::tunnel4) {
        config.mode = esp::Mode::tunnel;
        config.tunnel = tunnel4();
      } else {
        config.mode = esp::Mode::transport;
      }
      auto sas = make_pair(config, provider);
      // Whichever backend DefaultProvider picks here (ipsec-mb when built
      // with it, else libsodium or mbedTLS) must allocate nothing per packet.
      const char* backend = sas.out->transforms().aead ? sas.out->transforms().aead->backend()
                                                       : sas.out->transforms().cipher->backend();
      MESSAGE(s.name << ": " << backend);
      CHECK(std::string_view(backend) ==
            crypto::to_string(provider.backend_for(s.suite.encr, s.suite.key_bits)));
      // Start just below 2^32 so that the run crosses into the next ESN subspace.
      const uint64_t start = 0x100000000ULL - kRoundTrips / 2;
      sas.out->set_sequence(start);
      (void)sas.in->mutable_window().commit(start);

      auto make_packet = [shape](size_t size) {
        return shape == Shape::tunnel4 ? ipv4_udp("10.1.1.1", "10.2.2.2", size, 0xb8)
                                       : ipv6_udp("2001:db8:1::1", "2001:db8:2::1", size, 0xb8);
      };
      std::vector<Bytes> packets;
      for (const size_t size : kPayloadSizes) packets.push_back(make_packet(size));
      // The host buffer, with room for the largest packet.
      const size_t headroom = limits::kEspMaxHeadroom + 32;
      std::vector<uint8_t> storage(headroom + kPayloadSizes.back() + 64 + limits::kEspMaxTailroom + 64);

      size_t seal_failures = 0, open_failures = 0, mismatches = 0;
      uint64_t last_sequence = 0;
      Counting counting;
      for (size_t i = 0; i < kRoundTrips; ++i) {
        const Bytes& packet = packets[i % packets.size()];
        std::copy(packet.begin(), packet.end(), storage.begin() + static_cast<std::ptrdiff_t>(headroom));
        auto pb = PacketBuffer::over(storage, headroom, packet.size());
        if (!pb) {
          ++seal_failures;
          break;
        }
        auto sealed = esp::seal(*sas.out, *pb);
        if (!sealed) {
          ++seal_failures;
          break;
        }
        auto opened = esp::open(*sas.in, *pb);
        if (!opened) {
          ++open_failures;
          break;
        }
        if (!equal_bytes(pb->data(), packet) || opened->sequence != sealed->sequence) ++mismatches;
        last_sequence = opened->sequence;
      }
      counting.stop();
      CHECK(seal_failures == 0);
      CHECK(open_failures == 0);
      CHECK(mismatches == 0);
      CHECK(last_sequence == start + kRoundTrips);
      CHECK(counting.allocations() == 0);
      CHECK(counting.deallocations() == 0);
    }
  }
}

TEST_CASE("ESP seal_burst and open_burst allocate nothing") {
  crypto::DefaultProvider provider;
  const Bytes encr_key = test_key(crypto::encr_info(EncrId::aes_gcm_16)->keymat_size(256), 0x11);
  auto config = base_config({EncrId::aes_gcm_16, 256, IntegId::none}, encr_key, {});
  config.esn = true;
  config.tunnel = tunnel4();
  auto sas = make_pair(config, provider);
  constexpr size_t kBurst = 8;
  const Bytes packet = ipv4_udp("10.1.1.1", "10.2.2.2", 1372);
  std::vector<std::unique_ptr<HostBuffer>> bufs;
  for (size_t k = 0; k < kBurst; ++k) bufs.push_back(std::make_unique<HostBuffer>(packet));
  std::array<PacketBuffer, kBurst> pbs;
  std::array<esp::SealResult, kBurst> sealed;
  std::array<esp::OpenResult, kBurst> opened;
  const size_t headroom = bufs[0]->pb.offset();

  size_t failures = 0;
  Counting counting;
  for (size_t i = 0; i < kRoundTrips / kBurst; ++i) {
    for (size_t k = 0; k < kBurst; ++k) {
      std::copy(packet.begin(), packet.end(),
                bufs[k]->storage.begin() + static_cast<std::ptrdiff_t>(headroom));
      pbs[k] = PacketBuffer::over(bufs[k]->storage, headroom, packet.size()).value();
    }
    esp::seal_burst(*sas.out, pbs, sealed);
    esp::open_burst(*sas.in, pbs, opened);
    for (size_t k = 0; k < kBurst; ++k) {
      if (!sealed[k].status.ok() || !opened[k].status.ok() || !equal_bytes(pbs[k].data(), packet)) ++failures;
    }
  }
  counting.stop();
  CHECK(failures == 0);
  CHECK(counting.allocations() == 0);
  CHECK(counting.deallocations() == 0);
}
