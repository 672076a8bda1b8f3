# The compile matrix: every header alone under gcc and clang with strict C99,
# as C++11, in its *_STATIC mode, its implementation in one file used from
# two others, an nm check of the exported names; then all headers together
# beside the system headers whose names they must not collide with, and the
# build with -I on the folder that holds our sched.h.

[ -n "$CROSS" ] && return 0     # the matrix is about compilers, not targets
m_lack=$(t_lacks "$CLANG=clang" "$CXX=g++" "$CLANGXX=clang") &&
    t_skip matrix "the compile matrix's checks with the missing compilers" "$m_lack"

M=$T_OUT/matrix
mkdir -p "$M"
CXXWARN='-std=c++11 -Wall -Wextra -pedantic -Werror -Wshadow -Wundef -Wmissing-declarations'

# header prefix MACRO STATIC cflags libs
m_headers() {
    [ -f sched.h ] && echo "sched.h schd SCHD_IMPLEMENTATION SCHD_STATIC|-lpthread"
    [ -f aio_stream.h ] && echo "aio_stream.h aios AIOS_IMPLEMENTATION AIOS_STATIC|-lpthread"
    [ -f asyncusb.h ] && echo "asyncusb.h ausb AUSB_IMPLEMENTATION AUSB_STATIC $(pkg-config --cflags libusb-1.0 2>/dev/null)|$(pkg-config --libs libusb-1.0 2>/dev/null) -lpthread"
    [ -f asyncdev.h ] && echo "asyncdev.h adev ADEV_IMPLEMENTATION ADEV_STATIC|"
}

m_one_header() {
    local h=$1 p=$2 impl=$3 stat=$4 cflags=$5 libs=$6 d
    d=$M/$p
    mkdir -p "$d"
    printf '#define %s\n#include "%s"\n' "$impl" "$h" >"$d/impl.c"
    cp "$d/impl.c" "$d/impl.cpp"
    for cc in "$CC" "$CLANG"; do
        t_have "$cc" || continue   # named on a SKIP line
        t_check "$h alone, $cc, strict C99" $cc $T_WARN $cflags -I. -c "$d/impl.c" -o "$d/impl_$cc.o"
    done
    for cxx in "$CXX" "$CLANGXX"; do
        t_have "$cxx" || continue   # named on a SKIP line
        t_check "$h as C++11, $cxx" $cxx $CXXWARN $cflags -I. -c "$d/impl.cpp" -o "$d/impl_$cxx.o"
    done
    t_check "$h exports only ${p}_ names" bash -c "
        bad=\$(nm -g --defined-only '$d/impl_$CC.o' | awk '{print \$3}' | grep -v '^${p}_' )
        [ -z \"\$bad\" ] || { echo \"unprefixed: \$bad\"; exit 1; }"
    # the file's own functions and data (static ones too) carry the header's
    # prefix or the loop core's (akc_); compiler-made names hold a dot
    t_check "$h names everything it defines ${p}_ or akc_" bash -c "
        bad=\$(nm --defined-only '$d/impl_$CC.o' | awk '\$2 ~ /^[tTdDbBrR]\$/ {print \$3}' | grep -v '\\.' | grep -Ev '^(${p}|akc)_' )
        [ -z \"\$bad\" ] || { echo \"unprefixed: \$bad\"; exit 1; }"

    # HACKING.md: private functions are declared with the header's
    # *_PRIVATE macro (static, marked unused), outside the blocks that
    # tools/stamp_core.sh copies in (asyncusb.h's libusb callbacks aside)
    if [ "$h" != asyncusb.h ]; then
        t_check "$h declares its private functions with ${p^^}_PRIVATE" bash -c "
            bad=\$(awk '/==== asynckit .* begin ====/ {x = 1} /==== asynckit .* end ====/ {x = 0; next}
                        !x && /^static [^=]*\\(/' '$h')
            [ -z \"\$bad\" ] || { echo \"plain static: \$bad\"; exit 1; }"
    fi

    # a user who copies the one header has nothing else: it cites no
    # document of the repository ("DESIGN.md", "shape 3")
    t_check "$h cites no document it does not carry" bash -c "
        ! grep -nE 'DESIGN\.md|HACKING\.md|STYLE\.md|[Ss]hapes? [0-9]' '$h'"

    cat >"$d/use1.c" <<EOT
#include "$h"
#include <string.h>
int use_one(void);
int use_one(void) { return (int)strlen(${p}_strerror(0)); }
EOT
    cat >"$d/main.c" <<EOT
#include "$h"
#include <string.h>
int use_one(void);
int main(void) { return use_one() == (int)strlen(${p}_strerror(0)) ? 0 : 1; }
EOT
    t_check "$h implementation in one file, used from two others" bash -c "
        $CC $T_WARN $cflags -I. -o '$d/multi' '$d/impl.c' '$d/use1.c' '$d/main.c' $libs && '$d/multi'"

    printf '#define %s\n#define %s\n#include "%s"\n#include <string.h>\nint main(void) { return strlen(%s_strerror(0)) > 0 ? 0 : 1; }\n' \
        "$stat" "$impl" "$h" "$p" >"$d/static.c"
    t_check "$h with $stat keeps every name static" bash -c "
        $CC $T_WARN $cflags -I. -o '$d/static' '$d/static.c' $libs && '$d/static' &&
        ! nm -g --defined-only '$d/static' | awk '{print \$3}' | grep -q '^${p}_'"
}

while IFS= read -r line; do
    set -- ${line%%|*}
    m_one_header "$1" "$2" "$3" "$4" "${*:5}" "${line#*|}"
done < <(m_headers)

# The loop core: one source (core/core.h) stamped into every header, and
# two headers whose cores differ refuse to share a file.
t_check "every header carries core/core.h unchanged" tools/stamp_core.sh --check
m_core_v=$(sed -n 's/^#define AKC_CORE_VERSION \([0-9]*\)$/\1/p' core/core.h)
m_core_w=$((m_core_v + 1))
t_check "headers with different loop cores in one file stop with an #error" bash -c "
    sed 's/^#define AKC_CORE_VERSION $m_core_v\$/#define AKC_CORE_VERSION $m_core_w/; s/^#elif AKC_CORE_VERSION != $m_core_v\$/#elif AKC_CORE_VERSION != $m_core_w/' sched.h >'$M/sched_v2.h'
    printf '#include \"sched_v2.h\"\\n#include \"aio_stream.h\"\\n' >'$M/two_cores.c'
    ! $CC $T_WARN -I. -I'$M' -fsyntax-only '$M/two_cores.c' 2>'$M/two_cores.err' &&
    grep -q 'headers of different versions in one file' '$M/two_cores.err'"

# Every include order of the three headers, each declarations-only, with
# its implementation macro or with its static macro (gcc, C99); a sample of
# the same under C11, C++11 and clang (tests/matrix_orders.sh).
t_check "the headers in every order and every mode compile (gcc -std=c99)" bash tests/matrix_orders.sh all "$M/orders"
t_check "a sample of orders and modes compiles as C11, C++11 and with clang" bash tests/matrix_orders.sh sample "$M/orders_sample"
t_check "asyncdev.h before, between and after the others, in every mode, compiles" bash tests/matrix_orders.sh dev "$M/orders_dev"

# One error space: every code through every header's strerror (tests/errors.c).
if $CC $T_WARN -iquote . -o "$M/errors" tests/errors.c $(pkg-config --cflags --libs libusb-1.0 2>/dev/null) -lpthread \
        >"$M/errors.build.log" 2>&1; then
    t_suite "errors" "$M/errors"
    # ... and each manual's table of codes gives the numbers the program
    # printed (line "  CODE NAME text"), so a renumbering cannot leave the
    # manuals behind
    t_check "errors tables in the manuals give each code its number" bash -c '
        bad=0
        while read -r num name _; do
            case $name in AIOS_*) h=aio_stream.h ;; AUSB_*) h=asyncusb.h ;; *) continue ;; esac
            grep -qE "^    $name +$num " "$h" || { echo "$h: no line \"$name $num\""; bad=1; }
        done < <("$1")
        exit $bad' _ "$M/errors"
else
    t_fail_line "[errors] does not build: $(head -n 3 "$M/errors.build.log")"
fi

# All headers in one file with the system headers they must coexist with.
# -iquote makes "sched.h" ours while <sched.h> stays the system's.
all_cflags="" all_libs="-lpthread" includes="" sys_includes="#include <aio.h>
#include <sched.h>
#include <pthread.h>"
while IFS= read -r line; do
    set -- ${line%%|*}
    includes="$includes
#include \"$1\""
    all_cflags="$all_cflags ${*:5}"
    all_libs="$all_libs ${line#*|}"
    [ "$1" = asyncusb.h ] && sys_includes="$sys_includes
#include <libusb.h>"
done < <(m_headers)
cat >"$M/together.c" <<EOT
#define ASYNCKIT_IMPLEMENTATION
$includes
$sys_includes
int main(void)
{
    struct sched_param sp;
    struct aiocb cb;
    sp.sched_priority = 0;
    (void)cb;
    (void)sp;
    return sched_yield() != 0 || schd_strerror(0) == NULL;
}
EOT
for cc in "$CC" "$CLANG"; do
    t_have "$cc" || continue   # named on a SKIP line
    t_check "all headers with <aio.h> <sched.h> <pthread.h> in one file, $cc" bash -c "
        $cc $T_WARN -D_GNU_SOURCE $all_cflags -iquote . -o '$M/together_$cc' '$M/together.c' $all_libs -lrt && '$M/together_$cc'"
done
cp "$M/together.c" "$M/together.cpp"
t_check "all headers in one file as C++11" $CXX $CXXWARN -D_GNU_SOURCE $all_cflags -iquote . -c "$M/together.cpp" -o "$M/together_cxx.o"

# -I on our folder: <pthread.h> then looks for <sched.h> there first.
for order in pthread-first ours-first; do
    if [ $order = pthread-first ]; then first='#include <pthread.h>'; second='#include "sched.h"'
    else first='#include "sched.h"'; second='#include <pthread.h>'; fi
    cat >"$M/dash_i_$order.c" <<EOT
#define _GNU_SOURCE
#define SCHD_IMPLEMENTATION
$first
$second
static void *worker(void *arg) { schd_async_send((schd_async *)arg); return NULL; }
static void on_async(schd_async *a, void *ud) { (void)ud; schd_async_close(a); }
int main(void)
{
    schd_loop loop;
    schd_async a;
    pthread_t th;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (schd_loop_init(&loop) != 0) return 1;
    schd_async_init(&a, &loop, on_async, NULL);
    if (pthread_create(&th, NULL, worker, &a) != 0) return 1;
    sched_yield();
    schd_loop_run(&loop);
    pthread_join(th, NULL);
    return schd_loop_close(&loop);
}
EOT
    for cc in "$CC" "$CLANG" musl-gcc; do
        t_have "$cc" || continue
        t_check "-I on our sched.h folder ($order), $cc: builds and runs" bash -c "
            $cc $T_WARN -I. -o '$M/dash_i_${order}_$cc' '$M/dash_i_$order.c' -lpthread && '$M/dash_i_${order}_$cc'"
    done
done

# Tasks are macros around a switch: check they compile and behave as C++.
for cxx in "$CXX" "$CLANGXX"; do
    t_have "$cxx" || continue   # named on a SKIP line
    t_check "sched.h tasks compiled as C++11 with $cxx run as in C" bash -c "
        $cxx $CXXWARN -I. -o '$M/sched_cxx_$cxx' tests/sched_cxx.cpp && '$M/sched_cxx_$cxx'"
done
