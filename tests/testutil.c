/* testutil.c: (being written) */
