/* infer.c: (being written) */
