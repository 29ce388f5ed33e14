#!/bin/sh
# Link flags for tsnet-init's seccomp filter (libseccomp). The build stops here, with the fix, when the
# library's development files are missing — never a helper that silently runs containers unfiltered.
if printf '#include <seccomp.h>\nint main(void){return seccomp_api_get() < 0;}\n' |
  ${CC:-cc} -x c - -o /dev/null -lseccomp >/dev/null 2>&1; then
  echo -lseccomp
  exit 0
fi
echo "tsnet-init needs libseccomp (seccomp.h and libseccomp.so) to build: apt-get install -y libseccomp-dev" >&2
echo "  (Fedora: dnf install libseccomp-devel; Alpine: apk add libseccomp-dev)" >&2
exit 1
