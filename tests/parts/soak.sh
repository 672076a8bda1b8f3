# tests/parts/soak.sh - make soak itself runs for minutes and is not part of
# make test; here only its verdict is checked, on made-up samples: flat
# memory passes, a slow leak, a jump and a big leak fail (tests/soak.sh).
t_check "soak verdict: flat passes, leaks fail" bash tests/soak.sh --selftest
