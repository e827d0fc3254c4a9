/* metrics.c: (being written) */
