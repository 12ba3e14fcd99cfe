// SPDX-License-Identifier: Apache-2.0
// PLACEHOLDER: AH (RFC 4302) is being written.
#include "ipsec/esp/esp.hpp"

namespace ipsec::esp::detail {

Result<SealInfo> ah_seal(OutboundSa&, PacketBuffer&) noexcept { return Errc::unsupported_algorithm; }
Result<OpenInfo> ah_open(InboundSa&, PacketBuffer&) noexcept { return Errc::unsupported_algorithm; }

}  // namespace ipsec::esp::detail
