# FindIpsecMb: Intel's ipsec-mb library (Debian: libipsec-mb-dev, amd64 only),
# which ships no pkg-config or CMake files. Defines the imported target
# IpsecMb::IpsecMb and IpsecMb_VERSION (from IMB_VERSION_STR).
find_path(IpsecMb_INCLUDE_DIR intel-ipsec-mb.h)
find_library(IpsecMb_LIBRARY NAMES IPSec_MB)
# The header must really be there (a cache entry pointing elsewhere is not found).
unset(IpsecMb_HEADER)
if(IpsecMb_INCLUDE_DIR AND EXISTS "${IpsecMb_INCLUDE_DIR}/intel-ipsec-mb.h")
  set(IpsecMb_HEADER "${IpsecMb_INCLUDE_DIR}/intel-ipsec-mb.h")
  file(STRINGS "${IpsecMb_INCLUDE_DIR}/intel-ipsec-mb.h" _ipsecmb_version_line
       REGEX "^#define[ \t]+IMB_VERSION_STR[ \t]+\"[0-9.]+\"")
  string(REGEX REPLACE ".*\"([0-9.]+)\".*" "\\1" IpsecMb_VERSION "${_ipsecmb_version_line}")
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(IpsecMb
  REQUIRED_VARS IpsecMb_LIBRARY IpsecMb_INCLUDE_DIR IpsecMb_HEADER
  VERSION_VAR IpsecMb_VERSION)
if(IpsecMb_FOUND AND NOT TARGET IpsecMb::IpsecMb)
  add_library(IpsecMb::IpsecMb UNKNOWN IMPORTED)
  set_target_properties(IpsecMb::IpsecMb PROPERTIES
    IMPORTED_LOCATION "${IpsecMb_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${IpsecMb_INCLUDE_DIR}")
endif()
mark_as_advanced(IpsecMb_INCLUDE_DIR IpsecMb_LIBRARY)
