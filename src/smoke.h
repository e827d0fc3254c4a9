/* smoke.h: (being written) */
