/* repo.c: (being written) */
