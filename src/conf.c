/* conf.c: (being written) */
