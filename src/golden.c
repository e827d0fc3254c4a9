/* golden.c: (being written) */
