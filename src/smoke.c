/* smoke.c: (being written) */
