// SPDX-License-Identifier: Apache-2.0
// Fuzz target: what comes out of an SK or SKF payload. Two modes, chosen by
// the first input octet:
//  - any octet but 0xfe/0xff: the decrypted inner chain. The octet is the
//    first payload type (the SK payload's Next Payload), the rest is parsed
//    with parse_payload_chain(first, rest, 0, true, ...): every payload
//    accepted decodes with its views inside the input, the payloads tile it,
//    and the chain rebuilt from the decoded models parses to the same models
//    (ike_fuzz_common.hpp). SK/SKF inside it are refused; a chain one octet
//    short fails with truncated.
//  - 0xff (AES-CBC-128 + HMAC-SHA2-256-128) or 0xfe (AES-GCM-16-128): SK
//    opening with fixed keys (ike_fuzz_common.hpp, DefaultProvider). The
//    rest is a sequence of datagrams, each a 2-octet big-endian length and
//    that many octets. Each is parsed with parse_message; an SK message goes
//    through open_protected_message, an SKF one through open_fragment and a
//    fresh FragmentReassembler (one per input: the target is stateless).
//    What opens is checked like the first mode; a message that is HDR, SK
//    only is sealed again (build_protected_message, SeededRng) and must
//    open to the same inner models.
// Deterministic: fixed keys, a fixed seed, no state kept across inputs.
// libFuzzer builds also get the structure-aware mutator of ike_mutator.hpp
// (IPSEC_FUZZ_NO_CUSTOM_MUTATOR=1 turns it off): the chain mode as a
// payload chain, the keyed modes with their datagram framing kept.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "ike_fuzz_common.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/wire/ike_fragment.hpp"

using namespace ike_fuzz;

#if defined(IPSEC_FUZZ_LIBFUZZER)
#include "ike_mutator.hpp"

// Weak: an external engine without it gets ike_mutator's own byte mutator.
extern "C" __attribute__((weak)) size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {
bool keyed(const uint8_t* data, size_t size) {
  return size > 0 &&
         (data[0] == static_cast<uint8_t>(Suite::cbc_hmac) || data[0] == static_cast<uint8_t>(Suite::gcm));
}
}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  if (keyed(data, size)) return ike_mutator::mutate_datagrams(data, size, max_size, seed, LLVMFuzzerMutate);
  return ike_mutator::custom_mutate(ike_mutator::Framing::inner, data, size, max_size, seed,
                                    LLVMFuzzerMutate);
}

// Crossover within the chain mode only: a keyed input's datagrams are not a
// chain.
extern "C" size_t LLVMFuzzerCustomCrossOver(const uint8_t* data1, size_t size1, const uint8_t* data2,
                                            size_t size2, uint8_t* out, size_t max_out_size,
                                            unsigned int seed) {
  if (keyed(data1, size1) || keyed(data2, size2)) return 0;
  return ike_mutator::custom_cross_over(ike_mutator::Framing::inner, data1, size1, data2, size2, out,
                                        max_out_size, seed);
}
#endif

namespace {

crypto::Provider& provider() {
  static crypto::DefaultProvider p;
  return p;
}

SkTransform& keys_for(Suite suite) {
  static SkTransform cbc = make_fixed_keys(provider(), Suite::cbc_hmac).value();
  static SkTransform gcm = make_fixed_keys(provider(), Suite::gcm).value();
  return suite == Suite::gcm ? gcm : cbc;
}

// check_inner: a chain parse_payload_chain accepted as encrypted.
void check_inner(std::span<const PayloadView> inner, PayloadType first, ByteView chain, uint32_t base,
                 const ParseLimits& lim) {
  check_chain(inner, first, chain, base, true, lim);
  for (const PayloadView& p : inner) require(p.type != PayloadType::sk && p.type != PayloadType::skf);
  round_trip_chain(inner, true, lim);
}

void inner_chain(PayloadType first, ByteView chain) {
  const ParseLimits lim;
  static ParsedMessage msg;
  msg.clear();
  const Status s = parse_payload_chain(first, chain, 0, true, &msg, lim);
  if (!s.ok()) {
    require(!s.has_offset() || s.offset() <= chain.size());
    return;
  }
  check_inner(msg.payloads(), first, chain, 0, lim);
  check_summary(msg);
  if (!chain.empty()) {
    static ParsedMessage shorter;
    shorter.clear();
    require(parse_payload_chain(first, chain.first(chain.size() - 1), 0, true, &shorter, lim).code() ==
            Errc::truncated);
  }
}

// reseal: HDR, SK {chain} sealed again under fresh fixed keys opens to the
// same inner payloads.
void reseal(Suite suite, const ParsedMessage& opened, PayloadType first, ByteView plaintext) {
  const ParseLimits lim;
  auto keys = make_fixed_keys(provider(), suite);
  require(keys.ok());
  crypto::SeededRng rng(uint64_t{0x1ce});
  std::vector<uint8_t> out(kIkeHeaderSize + 4 + plaintext.size() + keys->overhead(plaintext.size()));
  auto built = build_protected_message(opened.header, first, plaintext, *keys, rng, out);
  if (!built.ok()) {
    // Only a message over 65535 octets cannot be built.
    require(built.status().code() == Errc::invalid_length);
    return;
  }
  static ParsedMessage again;
  require(parse_message(*built, &again, lim).ok());
  require(open_protected_message(*keys, out, again, lim).ok());
  std::span<const PayloadView> a = opened.payloads().subspan(1), b = again.payloads().subspan(1);
  require_same(a, b, lim);
}

void open_datagrams(Suite suite, ByteView rest) {
  const ParseLimits lim;
  SkTransform& keys = keys_for(suite);
  FragmentReassembler reassembler;
  ByteReader r(rest);
  uint16_t length = 0;
  ByteView datagram;
  std::vector<uint8_t> copy;
  while (r.read_u16(&length) && r.read_bytes(length, &datagram)) {
    copy.assign(datagram.begin(), datagram.end());
    const MutableByteView bytes(copy);
    static ParsedMessage msg;
    if (!parse_message(bytes, &msg, lim).ok()) continue;
    const PayloadView* sk = msg.protected_payload();
    if (sk == nullptr) continue;
    const size_t outer = msg.size();
    if (sk->type == PayloadType::sk) {
      const PayloadType first = sk->next;
      const uint32_t base = sk->offset + 4 + static_cast<uint32_t>(keys.iv_size());
      const Status s = open_protected_message(keys, bytes, msg, lim);
      if (!s.ok()) {
        require(!s.has_offset() || s.offset() <= copy.size());
        continue;
      }
      require(msg.decrypted && msg.size() >= outer);
      const std::span<const PayloadView> inner = msg.payloads().subspan(outer);
      // The plaintext starts after the IV; its length is what the inner
      // payloads take.
      const size_t plain_size = chain_size(inner);
      require(base + plain_size <= copy.size());
      const ByteView plaintext = ByteView(copy).subspan(base, plain_size);
      check_inner(inner, first, plaintext, base, lim);
      for (const PayloadView& p : inner) require(inside(p.body, copy));
      check_summary(msg);
      if (outer == 1) reseal(suite, msg, first, plaintext);
      continue;
    }
    // SKF.
    auto fragment = open_fragment(keys, bytes, msg);
    if (!fragment) {
      require(!fragment.status().has_offset() || fragment.status().offset() <= copy.size());
      continue;
    }
    require(inside(fragment->plaintext, copy));
    require(fragment->number >= 1 && fragment->number <= fragment->total);
    auto done = reassembler.add(msg.header, *fragment);
    if (!done) {
      require(done.status().code() == Errc::limit_exceeded);
      continue;
    }
    require(reassembler.pending() <= limits::kMaxPendingReassemblies);
    if (!done->has_value()) continue;
    const ReassembledMessage& m = **done;
    require(m.message_id == msg.header.message_id && m.response == msg.header.response());
    require(m.chain.size() <= limits::kMaxReassembledSize);
    static ParsedMessage inner;
    inner.clear();
    inner.header = msg.header;
    const Status s = parse_payload_chain(m.first, m.chain.view(), 0, true, &inner, lim);
    if (!s.ok()) continue;
    check_inner(inner.payloads(), m.first, m.chain.view(), 0, lim);
    check_summary(inner);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const ByteView rest(data + 1, size - 1);
  if (data[0] == static_cast<uint8_t>(Suite::cbc_hmac) || data[0] == static_cast<uint8_t>(Suite::gcm)) {
    open_datagrams(static_cast<Suite>(data[0]), rest);
  } else {
    inner_chain(static_cast<PayloadType>(data[0]), rest);
  }
  return 0;
}
