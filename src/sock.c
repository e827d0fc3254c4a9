/* sock.c: (being written) */
