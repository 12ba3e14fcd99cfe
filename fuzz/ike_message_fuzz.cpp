// SPDX-License-Identifier: Apache-2.0
// Fuzz target: an IKEv2 message as a UDP datagram (or RFC 8229 frame)
// delivers it, before any key exists. The input is one message:
//  - parse_ike_header and parse_message never read outside it; a header
//    parse_message accepts is the one parse_ike_header returns, its fields
//    as on the wire; errors carry offsets inside the input;
//  - every payload accepted decodes (decode_*, ranges iterated, RFC 7427
//    AUTH data for method 14) with its views inside the input, and the
//    payloads tile the message (ike_fuzz_common.hpp);
//  - differential round trip: the whole message rebuilt by MessageBuilder
//    from the header and the decoded payload models (SK/SKF raw) is as long
//    as the input, parses, and gives the same header and models;
//  - the chain one octet short fails with truncated, and a payload limit one
//    below the count fails with limit_exceeded;
//  - summarize() fits its buffer.
// libFuzzer builds also get the structure-aware mutator of ike_mutator.hpp
// (IPSEC_FUZZ_NO_CUSTOM_MUTATOR=1 turns it off).
#include <cstddef>
#include <cstdint>

#include "ike_fuzz_common.hpp"

using namespace ike_fuzz;

#if defined(IPSEC_FUZZ_LIBFUZZER)
#include "ike_mutator.hpp"

// Weak: an external engine without it gets ike_mutator's own byte mutator.
extern "C" __attribute__((weak)) size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  return ike_mutator::custom_mutate(ike_mutator::Framing::message, data, size, max_size, seed,
                                    LLVMFuzzerMutate);
}

extern "C" size_t LLVMFuzzerCustomCrossOver(const uint8_t* data1, size_t size1, const uint8_t* data2,
                                            size_t size2, uint8_t* out, size_t max_out_size,
                                            unsigned int seed) {
  return ike_mutator::custom_cross_over(ike_mutator::Framing::message, data1, size1, data2, size2, out,
                                        max_out_size, seed);
}
#endif

namespace {

void check_header(const IkeHeader& h, const uint8_t* data) {
  require(h.major_version == kIkeMajorVersion && h.spi_i != 0 && h.length >= kIkeHeaderSize);
  require(static_cast<uint8_t>(h.next_payload) == data[16]);
  require(static_cast<uint8_t>(h.exchange) == data[18] && h.flags == data[19]);
  require(((h.major_version << 4) | h.minor_version) == data[17]);
  require(h.length ==
          (uint32_t{data[24]} << 24 | uint32_t{data[25]} << 16 | uint32_t{data[26]} << 8 | data[27]));
  (void)to_string(h.exchange);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView input(data, size);
  const ParseLimits lim;

  // 1. The header alone.
  auto header = parse_ike_header(input);
  if (header) {
    require(size >= kIkeHeaderSize);
    check_header(*header, data);
  } else {
    require(!header.status().has_offset() || header.status().offset() <= size);
  }

  // 2. The whole message.
  static ParsedMessage msg;
  const Status s = parse_message(input, &msg, lim);
  if (!s.ok()) {
    require(!s.has_offset() || s.offset() <= size);
    if (s.code() == Errc::unsupported_critical_payload)
      require(!is_known_payload(static_cast<PayloadType>(msg.unsupported_payload_type)));
    return 0;
  }
  require(header.ok() && msg.header == *header && header->length == size);
  const ByteView chain = input.subspan(kIkeHeaderSize);
  check_chain(msg.payloads(), msg.header.next_payload, chain, kIkeHeaderSize, false, lim);
  for (const PayloadView& p : msg.payloads()) {
    require(inside(p.body, input) && p.offset + 4 + p.body.size() <= size);
  }
  // find / count / protected_payload agree with the list.
  for (const PayloadView& p : msg.payloads()) {
    const PayloadView* f = msg.find(p.type);
    require(f != nullptr && f->type == p.type && msg.count(p.type) >= 1);
    if (p.type == PayloadType::notify) {
      auto n = decode_notify(p);
      require(n.ok() && msg.find_notify(n->type).has_value());
    }
  }
  const PayloadView* sk = msg.protected_payload();
  if (sk != nullptr) require(sk == &msg.payloads().back());
  check_summary(msg);

  // 3. Differential round trip of the whole message.
  {
    MessageBuilder b(scratch(), msg.header);
    for (const PayloadView& p : msg.payloads()) rebuild(b.payloads(), p, lim);
    auto rebuilt = b.finish();
    require(rebuilt.ok() && rebuilt->size() == size);
    static ParsedMessage again;
    require(parse_message(*rebuilt, &again, lim).ok());
    IkeHeader expected = msg.header;
    // An SK/SKF payload rebuilt raw has Next Payload 0 (its first inner
    // payload is not part of the model); a message without payloads keeps
    // its own.
    require(again.header.spi_i == expected.spi_i && again.header.spi_r == expected.spi_r &&
            again.header.exchange == expected.exchange && again.header.flags == expected.flags &&
            again.header.message_id == expected.message_id && again.header.length == expected.length &&
            again.header.minor_version == expected.minor_version);
    require(again.header.next_payload == (msg.size() == 0 ? PayloadType::none : msg.payloads().front().type));
    require_same(msg.payloads(), again.payloads(), lim);
  }

  // 4. One octet short, and one payload over the limit.
  if (!chain.empty()) {
    static ParsedMessage shorter;
    shorter.clear();
    const Status t = parse_payload_chain(msg.header.next_payload, chain.first(chain.size() - 1),
                                         kIkeHeaderSize, false, &shorter, lim);
    require(t.code() == Errc::truncated);
  }
  if (msg.size() > 0) {
    ParseLimits fewer;
    fewer.max_payloads = msg.size() - 1;
    static ParsedMessage limited;
    require(parse_message(input, &limited, fewer).code() == Errc::limit_exceeded);
  }
  return 0;
}
