// SPDX-License-Identifier: Apache-2.0
// Helpers for the IKEv2 codec tests: rebuild a parsed payload chain from its
// decoded models (the round trip the codec promises), and compare models.
#pragma once

#include <doctest/doctest.h>

#include <vector>

#include "ipsec/wire/ike_builder.hpp"
#include "ipsec/wire/ike_message.hpp"
#include "ipsec/wire/ike_payloads.hpp"
#include "test_util.hpp"

namespace ipsec::test {

// add_decoded: decode `p` into its model and add it to `w` through the typed
// add_* call (add_raw for payloads without a richer model). The message the
// views point into must outlive the call.
inline void add_decoded(wire::PayloadChainWriter& w, const wire::PayloadView& p) {
  using wire::PayloadType;
  if (!p.understood) {
    w.add_raw(p.type, p.body, p.critical);
    return;
  }
  switch (p.type) {
    case PayloadType::sa: {
      auto sa = wire::decode_sa(p);
      REQUIRE(sa.ok());
      std::vector<std::vector<wire::Transform>> transforms;
      std::vector<wire::Proposal> proposals;
      for (const wire::ProposalView& v : sa->proposals) {
        transforms.emplace_back(v.transforms.begin(), v.transforms.end());
      }
      size_t i = 0;
      for (const wire::ProposalView& v : sa->proposals) {
        proposals.push_back(wire::Proposal{v.number, v.protocol, v.spi, transforms[i++]});
      }
      w.add_sa(proposals);
      return;
    }
    case PayloadType::ke: w.add_ke(*wire::decode_ke(p)); return;
    case PayloadType::id_i:
    case PayloadType::id_r: w.add_id(p.type, *wire::decode_id(p)); return;
    case PayloadType::cert: w.add_cert(*wire::decode_cert(p)); return;
    case PayloadType::certreq: w.add_certreq(*wire::decode_certreq(p)); return;
    case PayloadType::auth: w.add_auth(*wire::decode_auth(p)); return;
    case PayloadType::nonce: w.add_nonce(*wire::decode_nonce(p)); return;
    case PayloadType::notify: w.add_notify(*wire::decode_notify(p)); return;
    case PayloadType::del: w.add_delete(*wire::decode_delete(p)); return;
    case PayloadType::ts_i:
    case PayloadType::ts_r: {
      auto ts = wire::decode_ts(p);
      REQUIRE(ts.ok());
      std::vector<wire::TrafficSelector> selectors(ts->selectors.begin(), ts->selectors.end());
      w.add_ts(p.type, selectors);
      return;
    }
    case PayloadType::cp: {
      auto cp = wire::decode_cp(p);
      REQUIRE(cp.ok());
      std::vector<wire::ConfigAttribute> attributes(cp->attributes.begin(), cp->attributes.end());
      w.add_cp(cp->type, attributes);
      return;
    }
    default: w.add_raw(p.type, p.body, p.critical); return;
  }
}

// rebuild_chain: the plaintext chain of `payloads`, rebuilt from models.
inline Bytes rebuild_chain(std::span<const wire::PayloadView> payloads) {
  Bytes out(70000);
  wire::ChainBuilder b(out);
  for (const wire::PayloadView& p : payloads) add_decoded(b.payloads(), p);
  auto chain = b.finish();
  REQUIRE(chain.ok());
  return Bytes(chain->begin(), chain->end());
}

// rebuild_message: header + outer payloads, rebuilt (no SK).
inline Bytes rebuild_message(const wire::ParsedMessage& m) {
  Bytes out(70000);
  wire::MessageBuilder b(out, m.header);
  for (const wire::PayloadView& p : m.payloads()) add_decoded(b.payloads(), p);
  auto msg = b.finish();
  REQUIRE(msg.ok());
  return Bytes(msg->begin(), msg->end());
}

}  // namespace ipsec::test
