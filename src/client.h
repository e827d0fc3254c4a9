/* client.h: (being written) */
