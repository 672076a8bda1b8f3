# Packaging and vendoring: make install with its pkg-config files, the CMake
# interface targets through add_subdirectory, and cross builds of every
# example as an embedded build (Buildroot, Yocto) would run them.

[ -n "$CROSS" ] && return 0

P=$T_OUT/packaging
rm -rf "$P"; mkdir -p "$P"
cat >"$P/app.c" <<'EOT'
#define ASYNCKIT_IMPLEMENTATION
#include "sched.h"
#include "aio_stream.h"
#include "asyncusb.h"
#include <stdio.h>
int main(void)
{
    schd_loop loop;
    if (schd_loop_init(&loop) != 0) return 1;
    printf("%s %s %s\n", schd_strerror(0), aios_strerror(0), ausb_strerror(0));
    return schd_loop_close(&loop);
}
EOT

t_check "make install: headers under include/asynckit and pkg-config files that build a program" bash -c "
    make -s install PREFIX='$PWD/$P/prefix' &&
    [ -f '$P/prefix/include/asynckit/sched.h' ] && [ ! -e '$P/prefix/include/sched.h' ] &&
    PKG_CONFIG_PATH='$PWD/$P/prefix/lib/pkgconfig' $CC -std=c99 -Wall -Werror -o '$P/app_pc' '$P/app.c' \
        \$(PKG_CONFIG_PATH='$PWD/$P/prefix/lib/pkgconfig' pkg-config --cflags --libs asyncusb) &&
    '$P/app_pc' && make -s uninstall PREFIX='$PWD/$P/prefix' && [ ! -e '$P/prefix/include/asynckit' ]"

# A plain `make` (no target) builds every example: a dry run into an empty
# folder must name each examples/*.c as an output.
t_check "plain make builds every example" bash -c '
    d=$(mktemp -d) && out=$(make -n BUILD="$d") || exit 1
    rm -rf "$d"
    for src in examples/*.c; do
        echo "$out" | grep -q -- "-o $d/$(basename "$src" .c) " || { echo "make does not build $src"; exit 1; }
    done'

if t_with packaging "CMake add_subdirectory gives interface targets that build a program" cmake=cmake; then
    mkdir -p "$P/cmake_app"
    cp "$P/app.c" "$P/cmake_app/app.c"
    cat >"$P/cmake_app/CMakeLists.txt" <<EOT
cmake_minimum_required(VERSION 3.13)
project(vendored C)
add_subdirectory($PWD asynckit)
add_executable(app app.c)
target_link_libraries(app PRIVATE asynckit::sched asynckit::aio_stream asynckit::asyncusb)
EOT
    t_check "CMake add_subdirectory gives interface targets that build a program" bash -c "
        cmake -S '$P/cmake_app' -B '$P/cmake_build' >/dev/null && cmake --build '$P/cmake_build' >/dev/null &&
        '$P/cmake_build/app'"
fi

for triplet in aarch64-linux-gnu arm-linux-gnueabihf; do
    [ -z "$T_QUICK" ] || break   # cross builds: the builds' SKIP line says so
    t_with packaging "make CROSS=$triplet- and its examples under qemu" "$triplet-gcc=gcc-$triplet" || continue
    case $triplet in aarch64*) machine=AArch64; qemu=qemu-aarch64 ;; *) machine=ARM; qemu=qemu-arm ;; esac
    t_check "make CROSS=$triplet- builds every example for $machine" bash -c "
        make -s CROSS=$triplet- all >/dev/null || exit 1
        for src in examples/*.c; do
            f=build/$triplet/\$(basename \$src .c)
            readelf -h \$f 2>/dev/null | grep -q 'Machine:.*$machine' || { echo \"\$f missing or not $machine\"; exit 1; }
        done"
    t_check "the $triplet build of button runs under qemu" bash -c "
        $qemu -L /usr/$triplet build/$triplet/button | grep -q 'double'"
done

# The exact variables docs/VENDORING.md gives a Buildroot or Yocto build.
for triplet in aarch64-linux-gnu arm-linux-gnueabihf; do
    [ -z "$T_QUICK" ] || break
    t_have "$triplet-gcc" || continue
    t_check "a cross build with the recipe's variables ($triplet) builds every example" bash -c "
        rm -rf build/vendor-$triplet &&
        make -s CC=$triplet-gcc CFLAGS='-O2 -pipe -g0 -fstack-protector-strong -D_FORTIFY_SOURCE=2' \
            LDFLAGS='-Wl,-z,relro,-z,now' \
            PKG_CONFIG='PKG_CONFIG_LIBDIR=/usr/lib/$triplet/pkgconfig pkg-config' \
            BUILD=build/vendor-$triplet all >/dev/null &&
        for src in examples/*.c; do
            [ -x build/vendor-$triplet/\$(basename \$src .c) ] || { echo \"missing \$src\"; exit 1; }
        done"
done
