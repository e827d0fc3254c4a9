/* jsonx.c: (being written) */
