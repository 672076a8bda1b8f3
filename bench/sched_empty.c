/* sched_empty - the baseline for code size: a program that does nothing,
 * built with the same flags as sched_min.c and uv_min.c. */
int main(void)
{
    return 0;
}
