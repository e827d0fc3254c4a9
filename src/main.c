/* main.c: (being written) */
