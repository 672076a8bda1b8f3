# tests/parts/asyncusb.sh - asyncusb.h tests (sourced by tests/run.sh).
#
# usb_desc      walker, IADs, UTF-16, printable text, setup packets: no
#               libusb needed, so it runs in every variant of t_unit (also
#               cross and musl).
# usb_tree      the tree accessors on hand-built libusb trees: NULL arrays
#               under counts (libusb 1.0.26 returns those), counts that
#               disagree, zero counts (libusb's header only; native builds).
# usb_core      fake devices in an umockdev testbed (tests/usb_fake.h);
# usb_faults    error paths reached through the AUSB_LIBUSB and allocator hooks;
# usb_sweep     the n-th libusb call of a whole session fails, for every n;
# usb_stream    IN pipelines, the OUT queue, submission from other threads
#               (also under ThreadSanitizer), the Termux descriptor path;
# usb_epstream  endpoint streams: a byte stream over a bulk pair, read and
#               written through aio_stream.h and plain fds, and its ends;
# usb_hotplug   arrivals and departures through testbed uevents;
# usb_uevent    the kernel's hotplug monitor (no udevd): its parser on
#               malformed and random messages, the monitor on a socketpair
#               that plays the kernel (a flood, nodes that never open);
# usb_regress   regressions found in review (close and exit from the
#               callbacks they deliver, stop before run, iso lengths);
# usb_torture   many transfers, random cancels, timeouts, stalls, unplugs:
#               exactly one callback per submit (counted), nothing leaked;
# usb_sched     asyncusb on the sched.h loop, tasks awaiting transfers.
# usb_signals   signals reach the loop past the resolver's and libusb's threads.
# hosts         foreign loops (naive epoll, libuv, GLib) drive all three
#               headers; nested contexts share one wait per iteration.
# usb_hostile   hostile descriptor sets (every cut, bad bLengths, lying
#               lengths and counts, odd strings) through libusb, the tree
#               accessors, ausb dev-info / list and ptp_info (the CLIs on
#               every set in the ASan+UBSan build, on a fixed few under
#               valgrind; the in-process pass on every set, every 16th
#               under valgrind).
#               These run under libumockdev-preload, native only, in three
#               builds (plain, ASan+UBSan, valgrind) by the loop below.
# checks        the header compiles for aarch64 and armhf; ptp_info replays
#               the recorded camera (skipped, and named, without
#               ../shared/recordings: tests/parts/demo.sh runs the same
#               paths on the emulated camera); ausb dev-info matches lsusb -v.
#
# What needs a missing tool (umockdev, clang, valgrind, a cross compiler)
# is skipped with a SKIP line that names the package.

T_NO_CROSS= t_unit usb_desc tests/usb_desc.c

au_pkg() { ${PKG_CONFIG:-pkg-config} "$@"; }

if au_pkg --exists libusb-1.0 2>/dev/null; then
    # shellcheck disable=SC2046
    T_NO_CROSS=1 t_unit usb_tree tests/usb_tree.c $(au_pkg --cflags --libs libusb-1.0)
fi

# The native builds of t_variants (tests/lib.sh, same optimisation levels),
# with the USB suites' valgrind suppressions.  The USB suites include glib,
# whose <pthread.h> includes <sched.h>; quote includes keep our sched.h
# from shadowing the system one there.
au_variants() {
    echo "plain|$CC|-O2 -g|-"
    t_have "$CLANG" && echo "asan+ubsan|$CLANG|-O0 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer|-"
    echo "poll|$CC|-O1 -g -DASYNCKIT_POLL|-"
    t_have "$CLANG" && echo "poll+asan+ubsan|$CLANG|-O0 -g -DASYNCKIT_POLL -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer|-"
    [ -n "$T_QUICK" ] && return
    t_have valgrind && echo "valgrind|$CC|-O1 -g|valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --suppressions=tests/usb_valgrind.supp --track-fds=no"
}

# au_usb_suite NAME SRC [ENVFN]: build SRC in each variant, run it under
# umockdev (ENVFN VARIANT prints VAR=value words for that variant's run).
au_usb_suite() {
    local name=$1 src=$2 envf=${3:-} line vname cc flags runner exe libs envs i
    local -a vnames=() exes=() runners=() pids=()
    t_selected "$name" || return 0
    libs="$(au_pkg --cflags --libs libusb-1.0 umockdev-1.0) ${AU_LIBS_EXTRA:-}"
    # the variants build at once, then run in turn (as t_unit does)
    while IFS= read -r line; do
        vname=${line%%|*}; line=${line#*|}
        cc=${line%%|*}; line=${line#*|}
        flags=${line%%|*}; runner=${line#*|}
        t_variant_wanted "$vname" || continue
        exe="$T_OUT/${name}_$(echo "$vname" | tr '+' '_')"
        # shellcheck disable=SC2086
        $cc $flags $CFLAGS -iquote . -o "$exe" "$src" $libs >"$exe.build.log" 2>&1 &
        pids+=($!); vnames+=("$vname"); exes+=("$exe"); runners+=("$runner")
    done < <(au_variants)
    for i in "${!pids[@]}"; do
        vname=${vnames[$i]}; exe=${exes[$i]}; runner=${runners[$i]}
        if ! wait "${pids[$i]}"; then
            t_fail_line "[$name $vname] does not build:"
            head -n 12 "$exe.build.log" | sed 's/^/    /'
            continue
        fi
        envs=
        [ -n "$envf" ] && envs=$("$envf" "$vname")
        if [ "$runner" = "-" ]; then
            # shellcheck disable=SC2086
            ASAN_OPTIONS=verify_asan_link_order=0 t_suite "$name $vname" env $envs umockdev-wrapper "$exe"
        else
            # shellcheck disable=SC2086
            t_suite "$name $vname" env $envs umockdev-wrapper $runner "$exe"
        fi
    done
}

if au_missing=$(t_lacks umockdev-wrapper=umockdev pc:libusb-1.0=libusb-1.0-0-dev pc:umockdev-1.0=libumockdev-dev); then
    t_skip asyncusb "the USB suites (usb_core, usb_faults, usb_sweep, usb_stream, usb_epstream, usb_hotplug, usb_uevent, usb_regress, usb_torture, usb_sched, usb_signals)" "$au_missing"
else
    au_usb_suite usb_core tests/usb_core.c
    au_usb_suite usb_faults tests/usb_faults.c
    au_usb_suite usb_sweep tests/usb_sweep.c
    au_usb_suite usb_stream tests/usb_stream.c
    au_usb_suite usb_epstream tests/usb_epstream.c
    au_usb_suite usb_hotplug tests/usb_hotplug.c
    au_usb_suite usb_uevent tests/usb_uevent.c
    # SIGINT and SIGTERM through the loop while a resolver thread and
    # libusb's own thread are alive
    au_usb_suite usb_signals tests/usb_signals.c
    # Submission from other threads under ThreadSanitizer (the threaded
    # test only: umockdev's worker shares URB memory with the fake device
    # in ways TSan cannot follow).
    au_exe="$T_OUT/usb_stream_tsan"
    # shellcheck disable=SC2046
    if ! t_selected usb_stream || ! t_have "$CLANG"; then
        :   # another suite asked for, or no clang (its SKIP line came first)
    elif $CLANG -O1 -g -fsanitize=thread $CFLAGS -iquote . -o "$au_exe" tests/usb_stream.c \
        $(au_pkg --cflags --libs libusb-1.0 umockdev-1.0) >"$au_exe.build.log" 2>&1; then
        t_suite "usb_stream tsan" env T_ONLY="${T_ONLY:-threads}" TSAN_OPTIONS="suppressions=tests/usb_tsan.supp" umockdev-wrapper "$au_exe"
    else
        t_fail_line "[usb_stream tsan] does not build:"
        head -n 12 "$au_exe.build.log" | sed 's/^/    /'
    fi
    au_usb_suite usb_regress tests/usb_regress.c
    # issue 6: transfers with random cancels, timeouts, stalls, unplugs and
    # reopens, one callback per submit (tests/usb_torture.c).  umockdev
    # serves a few thousand transfers a second, so CI runs a short form:
    # USB_TORTURE_N (40000) plain, fewer in the slower builds; make soak
    # runs the million (USB_TORTURE_N=1000000 here does too).
    au_torture_env() {
        case "$1" in
            plain) echo "USB_TORTURE_N=${USB_TORTURE_N:-40000}" ;;
            asan+ubsan) echo "USB_TORTURE_N=${USB_TORTURE_N_ASAN:-15000}" ;;
            *) echo "USB_TORTURE_N=${USB_TORTURE_N_VALGRIND:-2000}" ;;
        esac
    }
    au_usb_suite usb_torture tests/usb_torture.c au_torture_env
    # ... and it fails when the library loses a callback or reports a
    # status the device never gave (broken on purpose with TT_MUTANT)
    for au_m in "1|no progress for" "2|unexpected status"; do
        t_selected usb_torture || break
        au_exe="$T_OUT/usb_torture_mutant${au_m%%|*}"
        # shellcheck disable=SC2046
        if $CC -O1 -g -DTT_MUTANT="${au_m%%|*}" -DAUSB_CLOSE_WAIT_NS=200000000 $CFLAGS -iquote . -o "$au_exe" \
            tests/usb_torture.c $(au_pkg --cflags --libs libusb-1.0 umockdev-1.0) >"$au_exe.build.log" 2>&1; then
            t_check "usb_torture fails on mutant ${au_m%%|*} (${au_m#*|})" bash -c '
                out=$(USB_TORTURE_N=4000 USB_TORTURE_STALL=3 umockdev-wrapper "$1"); echo "$out"
                echo "$out" | grep -q "$2" && echo "$out" | grep -q "^usb_torture: 0 passed, 1 failed$"' _ "$au_exe" "${au_m#*|}"
        else
            t_fail_line "[usb_torture mutant ${au_m%%|*}] does not build:"
            head -n 12 "$au_exe.build.log" | sed 's/^/    /'
        fi
    done
    # shape 3: a naive epoll loop, libuv and GLib each drive all three
    # headers; and sched.h hosting the others waits once per iteration
    if [ -e sched.h ] && [ -e aio_stream.h ] && au_pkg --exists libuv 2>/dev/null; then
        AU_LIBS_EXTRA=$(au_pkg --libs libuv) au_usb_suite hosts tests/hosts.c
    fi
    # The hostile descriptor sweep (tests/usb_hostile.c) runs the CLI
    # examples it is given: built plain and with ASan+UBSan here.
    au_hostile_clis() {
        local v flags cc ex ok=0
        for v in plain asan; do
            cc=$CC; flags="-O1 -g"
            [ "$v" = asan ] && { cc=$CLANG; flags="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"; }
            for ex in ausb ptp_info; do
                # shellcheck disable=SC2086,SC2046
                $cc $flags -I. -o "$T_OUT/hostile_${ex}_$v" "examples/$ex.c" $(au_pkg --cflags --libs libusb-1.0) \
                    >"$T_OUT/hostile_${ex}_$v.build.log" 2>&1 || ok=1
            done
        done
        return $ok
    }
    au_hostile_env() {
        local rec="AU_RECORDINGS=${AUSB_RECORDINGS:-../shared/recordings}"
        case "$1" in
            plain|poll) echo "$rec AU_HOSTILE_AUSB=$T_OUT/hostile_ausb_plain AU_HOSTILE_PTP=$T_OUT/hostile_ptp_info_plain" ;;
            poll+asan+ubsan) echo "$rec AU_HOSTILE_AUSB=$T_OUT/hostile_ausb_asan AU_HOSTILE_PTP=$T_OUT/hostile_ptp_info_asan" \
                "AU_HOSTILE_CLI=sample LSAN_OPTIONS=suppressions=tests/usb_lsan.supp:print_suppressions=0" ;;
            asan+ubsan) echo "$rec AU_HOSTILE_AUSB=$T_OUT/hostile_ausb_asan AU_HOSTILE_PTP=$T_OUT/hostile_ptp_info_asan" \
                "AU_HOSTILE_CLI=all LSAN_OPTIONS=suppressions=tests/usb_lsan.supp:print_suppressions=0" ;;
            *) echo "$rec AU_HOSTILE_AUSB=$T_OUT/hostile_ausb_plain AU_HOSTILE_PTP=$T_OUT/hostile_ptp_info_plain" \
                "AU_HOSTILE_CLI=sample AU_HOSTILE_EVERY=16" \
                "AU_HOSTILE_RUNNER=valgrind:-q:--error-exitcode=99:--leak-check=full:--errors-for-leak-kinds=definite,indirect:--suppressions=tests/usb_valgrind.supp" ;;
        esac
    }
    if au_hostile_clis; then
        au_usb_suite usb_hostile tests/usb_hostile.c au_hostile_env
        # what it left out, and why (the recordings may be absent)
        cat "$T_OUT"/usb_hostile_*.log 2>/dev/null | grep '^SKIP ' | sort -u
    else
        t_fail_line "[usb_hostile] the CLI examples do not build (see $T_OUT/hostile_*.build.log)"
    fi
    for au_src in tests/usb_sched*.c; do
        [ -e "$au_src" ] || continue
        [ -e sched.h ] || continue
        au_usb_suite "$(basename "$au_src" .c)" "$au_src"
    done
fi

# The whole header (implementation included) compiles for the boards, and
# the examples link against the target's libusb when its multiarch package
# is installed (tests/deps.sh).  Running them needs a device: not under qemu.
au_cross_compile() {
    local cc=$1 pkg=$2 arch=$3 triplet=${1%-gcc} ex m
    if m=$(t_lacks "$cc=$pkg"); then
        t_skip asyncusb "asyncusb.h and its examples built for $triplet" "$m"
        return 0
    fi
    t_check "asyncusb.h compiles with $cc" \
        $cc -std=c99 -Wall -Wextra -pedantic -Werror -c -x c -o "$T_OUT/asyncusb_${triplet}.o" \
        -DAUSB_IMPLEMENTATION -I. $(au_pkg --cflags libusb-1.0) asyncusb.h
    if [ -e "/usr/lib/$triplet/libusb-1.0.so" ] || [ -e "/usr/lib/$triplet/libusb-1.0.a" ]; then
        for ex in ausb ptp_info; do
            t_check "examples/$ex.c links for $triplet" \
                $cc -std=c99 -Wall -Wextra -pedantic -Werror -O2 -I. $(au_pkg --cflags libusb-1.0) \
                -o "$T_OUT/${ex}_$triplet" "examples/$ex.c" -L"/usr/lib/$triplet" -lusb-1.0
        done
    else
        t_skip asyncusb "the USB examples linked for $triplet" "needs libusb-1.0 for $triplet (package libusb-1.0-0-dev:$arch)"
    fi
}
# AUSB_NO_ZERO_COPY compiles the mapped stream buffers out (the suites
# test both paths through the run-time switch, ausb_set_zero_copy).
if t_selected "asyncusb.h" && au_pkg --exists libusb-1.0 2>/dev/null; then
    # shellcheck disable=SC2046
    t_check "asyncusb.h compiles with AUSB_NO_ZERO_COPY" \
        $CC -std=c99 -Wall -Wextra -pedantic -Werror -Wshadow -c -x c -o "$T_OUT/asyncusb_no_zero_copy.o" \
        -DAUSB_IMPLEMENTATION -DAUSB_NO_ZERO_COPY -I. $(au_pkg --cflags libusb-1.0) asyncusb.h
fi
if [ -z "$T_QUICK" ] && t_selected "asyncusb.h"; then
    au_cross_compile aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu arm64
    au_cross_compile arm-linux-gnueabihf-gcc gcc-arm-linux-gnueabihf armhf
fi

[ -e tests/usb_examples.sh ] && . tests/usb_examples.sh
