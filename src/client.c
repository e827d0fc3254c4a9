/* client.c: (being written) */
