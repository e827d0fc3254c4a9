/* sysd.c: (being written) */
