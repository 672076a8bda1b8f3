/* bench/aio_empty.c - the baseline for code size: an empty program built like the servers. */
int main(void) { return 0; }
