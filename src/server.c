/* server.c: (being written) */
