/* http.c: (being written) */
