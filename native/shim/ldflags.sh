#!/bin/sh
# Link flags for the CNI shim: static where a static C library is installed (Debian's libc6-dev has it):
# no dynamic loader at each exec, ~0.2 ms per CNI call. Elsewhere (e.g. Fedora without glibc-static) the
# shim links dynamically, and the native build still succeeds.
libc=$(${CC:-cc} -print-file-name=libc.a 2>/dev/null)
case "$libc" in
/*) [ -f "$libc" ] && echo -static ;;
esac
exit 0
